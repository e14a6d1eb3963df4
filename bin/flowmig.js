#!/usr/bin/env node
// flowmig command entry point (runs the compiled CLI; `npm run setup` builds it).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
