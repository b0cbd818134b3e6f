// Preloaded with `node --import` by the CLI tests: prints the process's peak
// resident memory (KiB) to stderr at exit, to check memory stays bounded.
process.on('exit', () => process.stderr.write(`maxrss-kib ${process.resourceUsage().maxRSS}\n`));
