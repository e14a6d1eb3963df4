// Which etcd members a call may go to: a member is usable while its gRPC connection is up and no
// call on it failed for lack of an answer since; an unusable member is skipped while another is
// usable (so a member cut off by the fabric does not take a call's whole deadline).

/** gRPC's connectivity state READY (`@grpc/grpc-js` connectivityState.READY). */
export const GRPC_READY = 2;

/**
 * How long a member whose call went unanswered (a deadline, a dropped stream) stays unused unless
 * no other member is usable: over the ~2 s the channel's keepalive (1 s ping, 1 s timeout) takes to
 * see a silent connection dead, after which its channel state says so by itself.
 */
export const SUSPECT_MS = 3_000;

/** The parts of an etcd3 pool host (`Host` in etcd3/lib/connection-pool.js) read here. */
export interface PoolHost {
  readonly host: string;
  readonly closed: boolean;
  readonly cachedServices: Readonly<Record<string, GrpcServiceClient | undefined>>;
  getServiceClient(name: string): GrpcServiceClient;
}

interface GrpcServiceClient {
  getChannel(): { getConnectivityState(tryToConnect: boolean): number };
}

/** Thrown instead of calling a member that is skipped; etcd3 then tries the next member. */
export class MemberSkipped extends Error {
  constructor(host: string) {
    // "No connection established" is what etcd3 / gRPC say of a request that was never sent:
    // the client's retry rule (client.ts) treats both alike.
    super(`No connection established to ${host} (skipped: another member is connected)`);
    this.name = 'MemberSkipped';
  }
}

/**
 * An attempt's failure that says the member could not serve it: no answer, or no leader (a member
 * cut off from the others answers that), not the request's own failure.
 */
export function isSilence(error: unknown): boolean {
  if (error instanceof MemberSkipped) return false;
  const message = (error as Error)?.message ?? '';
  return /DEADLINE_EXCEEDED|Deadline exceeded|UNAVAILABLE|Connection dropped|No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|timed out|no leader|context deadline exceeded/.test(
    message,
  );
}

export class MemberHealth {
  /** Member (etcd3's host string, `[fd00:fab::1]:2379`) → until when it is suspect (Date.now()). */
  private readonly suspect = new Map<string, number>();

  /** `hosts` reads etcd3's pool (made after the policies that consult this). */
  constructor(
    private readonly hosts: () => readonly PoolHost[],
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether `host` should be skipped: it is not usable and another member is. Also asks every
   * member's channel to connect, so a member the calls have not used yet is connected (usable)
   * by the time the one in use fails.
   */
  skip(host: string): boolean {
    const usable = this.hosts().filter((h) => this.usable(h));
    return usable.length > 0 && !usable.some((h) => h.host === host);
  }

  failed(host: string, error: unknown): void {
    if (isSilence(error)) this.suspect.set(host, this.now() + SUSPECT_MS);
  }

  answered(host: string): void {
    this.suspect.delete(host);
  }

  private usable(h: PoolHost): boolean {
    if (h.closed) return false;
    if ((this.suspect.get(h.host) ?? 0) > this.now()) return false;
    let ready = false;
    try {
      // Any of the member's channels: they share one connection (gRPC's global subchannel pool).
      for (const service of Object.values(h.cachedServices)) {
        if (service?.getChannel().getConnectivityState(false) === GRPC_READY) ready = true;
      }
      if (!ready) h.getServiceClient('KV').getChannel().getConnectivityState(true);
    } catch {
      return false; // closed meanwhile
    }
    return ready;
  }
}
