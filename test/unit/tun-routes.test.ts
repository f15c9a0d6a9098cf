// `route` with the tun uplink: the ip commands run for each route on Linux (added, deleted at stop), a route that
// exists already is neither an error nor deleted, a failure is logged with ip's message and does not stop the others,
// and outside Linux (Nanos) nothing runs and one line says so.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { installTunRoutes } from '../../src/io/tun-routes.js';
import { setLogSink } from '../../src/log.js';

let logs: string[] = [];
before(() => setLogSink((l) => logs.push(l)));
after(() => setLogSink((l) => process.stdout.write(l + '\n')));

const ROUTES = [{ network: '192.168.77.0', prefix: 24 }, { network: '10.20.0.0', prefix: 16 }, { network: '172.16.5.0', prefix: 24 }];

test('Linux: ip route add for each route into the device, ip route del for the added ones at stop', async () => {
  logs = [];
  const ran: string[] = [];
  const run = async (args: string[]): Promise<void> => {
    ran.push(args.join(' '));
    if (args[2] === '10.20.0.0/16' && args[1] === 'add') throw new Error('RTNETLINK answers: File exists');
    if (args[2] === '172.16.5.0/24' && args[1] === 'add') throw new Error('RTNETLINK answers: Operation not permitted');
  };
  const r = await installTunRoutes('tun7', ROUTES, { run, os: 'Linux' });
  assert.deepEqual(ran, ['route add 192.168.77.0/24 dev tun7', 'route add 10.20.0.0/16 dev tun7', 'route add 172.16.5.0/24 dev tun7']);
  assert.deepEqual(r.added, [ROUTES[0]]);
  assert.ok(logs.some((l) => /NOTICE route: host route exists already/.test(l) && l.includes('10.20.0.0/16')));
  assert.ok(logs.some((l) => /ERROR route: cannot add the host route/.test(l) && l.includes('Operation not permitted')
    && l.includes('ip route add 172.16.5.0/24 dev tun7')), logs.join('\n'));
  ran.length = 0;
  await r.remove();
  assert.deepEqual(ran, ['route del 192.168.77.0/24 dev tun7'], 'only what this server added');
  await r.remove();
  assert.deepEqual(ran, ['route del 192.168.77.0/24 dev tun7'], 'once');
});

test('Nanos: nothing runs, and one line says why', async () => {
  logs = [];
  const r = await installTunRoutes('tu2', ROUTES, { run: async () => { throw new Error('must not run'); }, os: 'Nanos' });
  assert.deepEqual(r.added, []);
  assert.equal(logs.filter((l) => /no host routes installed on Nanos/.test(l)).length, 1, logs.join('\n'));
  await r.remove();
});

test('no route lines: nothing runs, nothing is logged', async () => {
  logs = [];
  const r = await installTunRoutes('tun0', [], { run: async () => { throw new Error('must not run'); }, os: 'Linux' });
  assert.deepEqual(r.added, []);
  assert.deepEqual(logs, []);
});
