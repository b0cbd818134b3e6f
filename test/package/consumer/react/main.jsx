// A user's React component, built by Vite from the installed packages: the
// README's usePush example, with a pause (abort) and resume (start again).
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { usePush } from 'deltaflare/react';

function Upload() {
  const [file, setFile] = useState(null);
  const { start, abort, phase, progress, error, result } = usePush({ endpoint: new URL('sync', location.href).href });
  window.pushState = { phase, progress, error: error && { code: error.code, message: error.message }, result };
  return (
    <div>
      <input id="file" type="file" onChange={(e) => setFile(e.target.files[0])} />
      <button id="start" type="button" disabled={!file} onClick={() => start(file, { key: file.name })}>
        {phase === 'aborted' ? 'Resume' : 'Upload'}
      </button>
      <button id="pause" type="button" onClick={abort}>
        Pause
      </button>
      <p id="phase">{phase}</p>
      {progress && <progress max={progress.size} value={progress.matchedBytes + progress.literalBytesSent + progress.resumedBytes} />}
      {progress && (
        <p>
          {(progress.rate / 1e6).toFixed(1)} MB/s, {Math.ceil(progress.eta)} s left
        </p>
      )}
      {error && <p role="alert">{error.message}</p>}
      {result && (
        <p id="done">
          {result.literalBytes} bytes sent, {result.matchedBytes} matched
        </p>
      )}
    </div>
  );
}

createRoot(document.getElementById('root')).render(<Upload />);
