// A user's page, built by Vite from the installed package: uploads the picked
// file with deltaflare/browser to the endpoint the test names.
import { DeltaflareError, sync } from 'deltaflare/browser';

window.upload = async (endpoint, key) => {
  const file = document.getElementById('file').files[0];
  try {
    return { result: await sync(file, { endpoint, key }) };
  } catch (e) {
    if (e instanceof DeltaflareError) return { error: { code: e.code, message: e.message } };
    throw e;
  }
};
