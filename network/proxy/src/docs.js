'use strict';
/**
 * GET /docs: the OpenAPI document rendered by Swagger UI (swagger-ui-dist, pinned in package-lock.json),
 * served from node_modules: the machines reach no CDN, and a page that loads nothing from elsewhere is
 * also one the proxy's CSP can hold to 'self'.
 */

const fs = require('node:fs');
const path = require('node:path');

const DIST = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** Our own start-up script (a file, not inline, so the CSP needs no 'unsafe-inline' for scripts). */
const INIT = `'use strict';
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#api',
    deepLinking: true,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vmledger gateway REST proxy — API</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="api"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

const HEADERS = Object.freeze({
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
  'X-Content-Type-Options': 'nosniff',
});

const FILES = Object.freeze({
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
});

const cache = new Map([['init.js', { body: Buffer.from(INIT), contentType: 'text/javascript; charset=utf-8' }]]);

/** A page asset by name (only those the page uses), or undefined. */
function asset(name) {
  if (!cache.has(name) && Object.hasOwn(FILES, name)) {
    cache.set(name, { body: fs.readFileSync(path.join(DIST, name)), contentType: FILES[name] });
  }
  return cache.get(name);
}

module.exports = { PAGE, HEADERS, asset };
