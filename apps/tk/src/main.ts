#!/usr/bin/env node
// The tk binary: the only place that exits (by setting the exit code).
import { runProcess } from './process.ts';

process.exitCode = await runProcess();
