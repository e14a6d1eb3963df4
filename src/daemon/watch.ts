// Tells the daemon when a lab's state files change (inotify on the state directory), so the
// dashboard also sees changes made by other processes: the library, `--direct`, a script.
import { type FSWatcher, watch } from 'node:fs';

/** Coalesces a burst of events (a journal append and a snapshot) into one call. */
const SETTLE_MS = 5;

/** Calls `changed` after `<lab>.json` or `<lab>.journal` in `dir` changed; returns the stopper. */
export function watchState(dir: string, lab: string, changed: () => void): () => void {
  const names = new Set([`${lab}.json`, `${lab}.journal`]);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, (_event, file) => {
      if (file !== null && !names.has(String(file))) return;
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        changed();
      }, SETTLE_MS);
    });
    // The directory went (the lab's state removed by hand): nothing more to watch.
    watcher.on('error', () => watcher?.close());
  } catch {
    // No inotify here: other processes' changes show at the next status read instead.
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
