// The test servers in one import: authorization server, protected API, header recorder, static files.
export { startAuthServer } from './auth.mjs';
export { startApi } from './api.mjs';
export { startRecorder } from './recorder.mjs';
export { startStatic } from './static.mjs';
export { startDotServer } from './dot.mjs';
