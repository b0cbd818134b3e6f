// An Uppy Dashboard that uploads with deltaflare: `npm install`, then
// `npx deltaflare serve --dir ./data` in one terminal and `npm run dev` in
// another (Vite's dev server passes /v1 on to the endpoint: vite.config.js).
// Golden Retriever brings files back after a reload; the upload goes on
// where it stopped.
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import GoldenRetriever from '@uppy/golden-retriever';
import Deltaflare from 'deltaflare/uppy';
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';

const uppy = new Uppy()
  .use(Dashboard, { inline: true, target: '#uploads', proudlyDisplayPoweredByUppy: false })
  .use(GoldenRetriever)
  .use(Deltaflare, { endpoint: location.origin });

// What each upload cost: the plugin hands the SDK's result to `upload-success`.
uppy.on('upload-success', (file, response) => {
  const r = response.body;
  const li = document.createElement('li');
  li.textContent = `${file.name}: version ${r.version}, ${(r.literalBytes / 1e6).toFixed(1)} MB sent, ${(r.matchedBytes / 1e6).toFixed(1)} MB already there`;
  document.getElementById('results').append(li);
});
