// Temporary: moved to src/results/stats.ts.
export * from '../results/stats.js';
