// The page and the endpoint on one origin: Vite's dev server hands /v1 to
// `deltaflare serve` (no CORS to set up). Deployed, put both behind one host,
// or allow the page's origin on the endpoint (createApp's corsOrigins).
export default {
  server: { proxy: { '/v1': 'http://127.0.0.1:19876' } },
  worker: { format: 'es' },
};
