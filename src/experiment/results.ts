// Temporary: moved to src/results/schema.ts and src/experiment/run-id.ts.
export * from '../results/schema.js';
export * from './run-id.js';
