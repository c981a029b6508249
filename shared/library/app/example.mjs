// A tiny instrumented HTTP service: node example.mjs --stats --stats-port 8125 --requests 3
import http from 'node:http';
import { parseArgs } from 'node:util';
import { createApp, instrumentServer } from 'telltale';

const app = createApp({ name: 'hello' }); // metrics under <environment>.hello.*
const { values } = parseArgs({ args: [...app.argv], options: { requests: { type: 'string', default: '3' } } });

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/users/')) web.setRoute(req, '/users/:id');
  res.end('hello\n');
});
const web = instrumentServer(server, { emitter: app.stats });

server.listen(0, '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  await app.stats.timer('run', async () => {
    for (let i = 0; i < Number(values.requests); i++) await (await fetch(`${url}/users/${i}`)).text();
  });
  app.log.info('done', { requests: values.requests, stats: app.statsAddress ?? 'off' });
  server.close(); // nothing left to do: the app flushes its metrics and the process exits
});
