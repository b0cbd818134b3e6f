// A user's Uppy page, built by Vite from the installed packages: the
// Dashboard as it ships, Golden Retriever to survive a reload, and deltaflare
// as the uploader (one `use` line).
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import GoldenRetriever from '@uppy/golden-retriever';
import { idbResumeStore } from 'deltaflare/browser';
import Deltaflare from 'deltaflare/uppy';
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';

const uppy = new Uppy()
  .use(Dashboard, { inline: true, target: '#uploads' })
  .use(GoldenRetriever)
  .use(Deltaflare, {
    endpoint: new URL('sync', location.href).href,
    retry: { retries: 1, delay: () => 50 }, // fail fast, so the test sees Uppy's retry
    onProgress: (p) => (window.lastProgress = p),
  });

// What the test reads: Uppy's own events, as an app would listen to them.
window.uppy = uppy;
window.unfinished = async () => (await idbResumeStore().list()).filter((r) => r.session).map((r) => r.session.id);
window.events = [];
uppy.on('upload-success', (file, response) => window.events.push({ type: 'success', name: file.name, body: response.body, uploadURL: response.uploadURL }));
uppy.on('upload-error', (file, error) => window.events.push({ type: 'error', name: file?.name, message: error.message }));
uppy.on('upload-progress', (_file, progress) =>
  window.events.push({ type: 'progress', bytesUploaded: progress.bytesUploaded, bytesTotal: progress.bytesTotal }),
);
