// The >CLIENT: notifications and the other management records (pure formatting), in OpenVPN 2.6's formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressNotification, bytecountClientLine, clientEnv, type ClientFacts, clientNotification, envFilterKeeps, filterNotification,
  logLine, stateLine, validPeerInfoLine,
} from '../../src/server/management-env.js';
import { timeString } from '../../src/server/observe.js';

const FACTS: ClientFacts = {
  cn: 'client1', username: 'alice', remote: '198.19.1.2:40000',
  peerInfo: new Map([['IV_VER', '2.6.14'], ['IV_PROTO', '990'], ['IV_BAD NAME', 'x'], ['IV_CTRL', 'a\x01b']]),
  cert: { subject: [['O', 'Example'], ['CN', 'client1']], serialHex: '0A1B', sha1: 'AA:BB', sha256: 'CC:DD' },
  vip: '10.8.0.2', vipSecond: '255.255.255.0', topology: 'subnet', createdSec: 1_700_000_000, bytesReceived: 1234, bytesSent: 5678,
};

const asMap = (lines: string[]): Map<string, string> => new Map(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

test('CONNECT env: identity, address, peer info and certificate; nothing of the tunnel yet, never a password', () => {
  const env = asMap(clientEnv(FACTS, 'connect', 1_700_000_010));
  assert.equal(env.get('common_name'), 'client1');
  assert.equal(env.get('username'), 'alice');
  assert.equal(env.get('untrusted_ip'), '198.19.1.2');
  assert.equal(env.get('untrusted_port'), '40000');
  assert.equal(env.get('IV_VER'), '2.6.14');
  assert.equal(env.get('IV_PROTO'), '990');
  assert.equal(env.has('IV_BAD NAME'), false, 'an invalid peer-info name is left out');
  assert.equal(env.has('IV_CTRL'), false, 'a value with control characters is left out');
  assert.equal(env.get('X509_0_CN'), 'client1');
  assert.equal(env.get('X509_0_O'), 'Example');
  assert.equal(env.get('tls_id_0'), 'O=Example, CN=client1');
  assert.equal(env.get('tls_serial_0'), '2587');
  assert.equal(env.get('tls_serial_hex_0'), '0a:1b');
  assert.equal(env.get('tls_digest_0'), 'aa:bb');
  assert.equal(env.get('tls_digest_sha256_0'), 'cc:dd');
  for (const k of ['trusted_ip', 'ifconfig_pool_remote_ip', 'time_unix', 'bytes_received', 'password']) assert.equal(env.has(k), false, k);
});

test('ESTABLISHED env adds the tunnel: trusted address, pool address (netmask in subnet, local ip in net30), times', () => {
  const env = asMap(clientEnv(FACTS, 'established', 1_700_000_010));
  assert.equal(env.get('trusted_ip'), '198.19.1.2');
  assert.equal(env.get('trusted_port'), '40000');
  assert.equal(env.get('ifconfig_pool_remote_ip'), '10.8.0.2');
  assert.equal(env.get('ifconfig_pool_netmask'), '255.255.255.0');
  assert.equal(env.get('time_unix'), '1700000000');
  assert.equal(env.get('time_ascii'), timeString(1_700_000_000));
  assert.equal(env.has('bytes_sent'), false);
  const net30 = asMap(clientEnv({ ...FACTS, topology: 'net30', vip: '10.8.0.6', vipSecond: '10.8.0.5' }, 'established', 0));
  assert.equal(net30.get('ifconfig_pool_local_ip'), '10.8.0.5');
  assert.equal(net30.has('ifconfig_pool_netmask'), false);
});

test('DISCONNECT env adds the byte counts and the duration', () => {
  const env = asMap(clientEnv(FACTS, 'disconnect', 1_700_000_042));
  assert.equal(env.get('bytes_received'), '1234');
  assert.equal(env.get('bytes_sent'), '5678');
  assert.equal(env.get('time_duration'), '42');
});

test('a client without username, certificate or peer info: only what is known, no empty variables', () => {
  const lines = clientEnv({ remote: '198.19.1.2:1', createdSec: 0 }, 'connect', 0);
  assert.deepEqual(lines, ['untrusted_port=1', 'untrusted_ip=198.19.1.2']);
});

test('notification blocks: heads, n_clients first, ENV lines, ENV,END', () => {
  assert.deepEqual(clientNotification('CONNECT', 7, 0, ['a=1'], 2), ['>CLIENT:CONNECT,7,0', '>CLIENT:ENV,n_clients=2', '>CLIENT:ENV,a=1', '>CLIENT:ENV,END']);
  assert.deepEqual(clientNotification('REAUTH', 7, 3, [], 1), ['>CLIENT:REAUTH,7,3', '>CLIENT:ENV,n_clients=1', '>CLIENT:ENV,END']);
  assert.deepEqual(clientNotification('ESTABLISHED', 7, undefined, ['a=1'], 1), ['>CLIENT:ESTABLISHED,7', '>CLIENT:ENV,n_clients=1', '>CLIENT:ENV,a=1', '>CLIENT:ENV,END']);
  assert.deepEqual(clientNotification('DISCONNECT', 7, undefined, ['a=1'], 1), ['>CLIENT:DISCONNECT,7', '>CLIENT:ENV,a=1', '>CLIENT:ENV,END'],
    'no n_clients in DISCONNECT (2.6 writes no extra env there)');
  assert.equal(addressNotification(7, '10.8.0.2', true), '>CLIENT:ADDRESS,7,10.8.0.2,1');
  assert.equal(addressNotification(7, '10.55.0.0/24', false), '>CLIENT:ADDRESS,7,10.55.0.0/24,0');
  assert.equal(bytecountClientLine(7, 10, 20), '>BYTECOUNT_CLI:7,10,20');
});

test('state and log records: 8 comma fields for a state (a server has no remote and no local address), TIME,FLAGS,TEXT for a log', () => {
  assert.equal(stateLine({ time: 5, name: 'CONNECTED', detail: 'SUCCESS', tunIp: '10.8.0.1' }), '5,CONNECTED,SUCCESS,10.8.0.1,,,,');
  assert.equal(stateLine({ time: 5, name: 'CONNECTING' }), '5,CONNECTING,,,,,,');
  assert.equal(stateLine({ time: 5, name: 'CONNECTED', detail: 'SUCCESS', tunIp: '10.8.0.1' }).split(',').length, 8);
  assert.equal(logLine({ time: 5, flags: 'W', text: 'hello' }), '5,W,hello');
});

test('peer-info lines: names of letters, digits and _, printable values', () => {
  assert.equal(validPeerInfoLine('IV_GUI_VER', 'OpenVPN_GUI 11'), true);
  assert.equal(validPeerInfoLine('IV-VER', '1'), false);
  assert.equal(validPeerInfoLine('', '1'), false);
  assert.equal(validPeerInfoLine('IV_X', 'tab\there'), false);
});

test('env-filter as 2.6: 1 keeps X509_ and the short list, 2 only the list, 3 nothing; END and the head always stay', () => {
  const connect = clientNotification('CONNECT', 4, 1, clientEnv(FACTS, 'connect', 1_700_000_010), 2);
  assert.deepEqual(filterNotification(connect, 0), connect, 'level 0 is everything');
  const vars = (lines: string[]) => lines.filter((l) => l.startsWith('>CLIENT:ENV,')).map((l) => l.slice(12).split('=')[0]);
  const one = filterNotification(connect, 1);
  assert.equal(one[0], '>CLIENT:CONNECT,4,1');
  assert.deepEqual(vars(one).slice(0, 2), ['IV_PROTO', 'IV_VER'], 'peer info first, unfiltered');
  assert.ok(!vars(one).includes('n_clients') && !vars(one).includes('common_name') && !vars(one).includes('untrusted_port'));
  for (const v of ['X509_0_CN', 'X509_0_O', 'username', 'untrusted_ip', 'tls_serial_0', 'tls_serial_hex_0']) assert.ok(vars(one).includes(v), v);
  assert.equal(one.at(-1), '>CLIENT:ENV,END');
  const two = filterNotification(connect, 2);
  assert.ok(vars(two).includes('X509_0_CN') && !vars(two).includes('X509_0_O'), 'level 2: X509_0_CN only');
  assert.deepEqual(vars(filterNotification(connect, 3)), ['IV_PROTO', 'IV_VER', 'END'], 'level 3: only the peer info of a CONNECT');
  const disc = clientNotification('DISCONNECT', 4, undefined, clientEnv(FACTS, 'disconnect', 1_700_000_100));
  assert.deepEqual(vars(filterNotification(disc, 2)).sort(),
    ['END', 'X509_0_CN', 'bytes_received', 'bytes_sent', 'ifconfig_pool_netmask', 'ifconfig_pool_remote_ip', 'tls_serial_0',
      'tls_serial_hex_0', 'time_duration', 'untrusted_ip', 'username'].sort(), 'a DISCONNECT never shows peer info under a filter');
  assert.equal(envFilterKeeps('password=x', 2), true, 'the list has password (nanovpn never writes one)');
  assert.equal(envFilterKeeps('common_name=x', 1), false);
});
