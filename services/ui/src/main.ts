#!/usr/bin/env node
// Placeholder until the service lands (issue 18).
process.stderr.write('tabby-ui: not built yet\n');
process.exit(1);
