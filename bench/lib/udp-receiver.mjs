// A plain statsd-line receiver in its own process: counts datagrams and lines, and sums counter
// values, so loss is measured where the packets land. Controlled over IPC (reset / report).
import dgram from 'node:dgram';
import net from 'node:net';

const udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
let datagrams = 0;
let lines = 0;
let counterSum = 0;
function take(text) {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end > start) {
      lines++;
      const colon = text.indexOf(':', start);
      const bar = text.indexOf('|', colon);
      if (colon > 0 && bar > colon && text.charCodeAt(bar + 1) === 99 /* c */) counterSum += Number(text.slice(colon + 1, bar));
    }
    start = end + 1;
  }
}
udp.on('message', (m) => {
  datagrams++;
  take(m.toString('latin1'));
});
// Graphite plaintext: "name value ts" — count lines and sum `.count` values.
const onConnection = (s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines++;
      const [name, value] = line.split(' ');
      if (name.endsWith('.count') && name.startsWith('stats.counters.bench.')) counterSum += Number(value);
    }
  });
};
const tcp = net.createServer(onConnection);
// Three more Graphite listeners: the destinations of the several-destination cases.
const extra = [0, 1, 2].map(() => net.createServer(onConnection));
const listen = (srv) => new Promise((r) => srv.listen(0, '127.0.0.1', r));
udp.bind(0, '127.0.0.1', async () => {
  for (const srv of [tcp, ...extra]) await listen(srv);
  process.send({ type: 'ready', udpPort: udp.address().port, tcpPort: tcp.address().port, tcpPorts: extra.map((x) => x.address().port) });
});
process.on('message', (m) => {
  if (m === 'reset') {
    datagrams = lines = counterSum = 0;
    process.send({ type: 'reset' });
  } else if (m === 'report') {
    process.send({ type: 'report', datagrams, lines, counterSum });
  } else if (m === 'exit') process.exit(0);
});
