#!/usr/bin/env node
import { processIO } from './io.js';
import { run } from './program.js';

// Operators should see tabbyctl's own messages only. (Node warns about TLS to an IP address,
// which is how stores are usually addressed; the certificate's IP SAN is still checked.)
process.noDeprecation = true;
process.exitCode = await run(process.argv.slice(2), processIO());
