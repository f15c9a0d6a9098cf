import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpPool } from '../../src/core/router/ip-pool.js';
import { ipFromString as ip, ipToString } from '../../src/core/wire/ipv4.js';

const MASK24 = ip('255.255.255.0');
const pool24 = () => new IpPool(ip('10.8.0.0'), MASK24);

test('/24: .1 is the server, clients get .2 … .254', () => {
  const p = pool24();
  assert.equal(ipToString(p.serverIp), '10.8.0.1');
  assert.equal(ipToString(p.broadcast), '10.8.0.255');
  assert.equal(p.size, 253);
  assert.equal(p.isClientAddress(p.serverIp), false);
  assert.equal(p.isClientAddress(ip('10.8.0.0')), false);
  assert.equal(p.isClientAddress(ip('10.8.0.255')), false);
  assert.equal(p.isClientAddress(ip('10.8.0.2')), true);
  assert.equal(p.isClientAddress(ip('10.8.0.254')), true);
  assert.equal(p.contains(ip('10.8.0.255')), true);
  assert.equal(p.contains(ip('10.8.1.1')), false);
});

test('the network is normalised with the mask', () => {
  const p = new IpPool(ip('10.8.0.77'), MASK24);
  assert.equal(ipToString(p.network), '10.8.0.0');
  assert.equal(ipToString(p.serverIp), '10.8.0.1');
});

test('allocation order: lowest free address first; released addresses are reused', () => {
  const p = pool24();
  assert.deepEqual([p.allocate(), p.allocate(), p.allocate()].map((a) => ipToString(a!)), ['10.8.0.2', '10.8.0.3', '10.8.0.4']);
  assert.equal(p.inUse, 3);
  p.release(ip('10.8.0.3'));
  assert.equal(p.inUse, 2);
  assert.equal(p.isFree(ip('10.8.0.3')), true);
  assert.equal(ipToString(p.allocate()!), '10.8.0.3');
  assert.equal(ipToString(p.allocate()!), '10.8.0.5');
});

test('preferred address: taken when free, otherwise the lowest free one', () => {
  const p = pool24();
  assert.equal(ipToString(p.allocate(ip('10.8.0.100'))!), '10.8.0.100');
  assert.equal(ipToString(p.allocate(ip('10.8.0.100'))!), '10.8.0.2');     // already used
  assert.equal(ipToString(p.allocate(ip('10.8.0.1'))!), '10.8.0.3');       // the server's
  assert.equal(ipToString(p.allocate(ip('10.8.0.255'))!), '10.8.0.4');     // broadcast
  assert.equal(ipToString(p.allocate(ip('192.168.1.5'))!), '10.8.0.5');    // outside the pool
  assert.equal(p.isFree(ip('10.8.0.100')), false);
});

test('releasing an address that is not in use changes nothing', () => {
  const p = pool24();
  p.allocate();
  p.release(ip('10.8.0.50'));
  p.release(ip('1.2.3.4'));
  assert.equal(p.inUse, 1);
});

test('exhaustion: undefined when full, an address again after a release', () => {
  const p = new IpPool(ip('10.9.0.0'), ip('255.255.255.248'));   // /29: .2 … .6
  assert.equal(p.size, 5);
  const got = Array.from({ length: 5 }, () => ipToString(p.allocate()!));
  assert.deepEqual(got, ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  assert.equal(p.allocate(), undefined);
  assert.equal(p.allocate(ip('10.9.0.4')), undefined);
  p.release(ip('10.9.0.5'));
  assert.equal(ipToString(p.allocate()!), '10.9.0.5');
});

test('/30 is the minimum: one client; /31 and /32 are refused', () => {
  const p = new IpPool(ip('10.10.0.4'), ip('255.255.255.252'));
  assert.equal(ipToString(p.serverIp), '10.10.0.5');
  assert.equal(p.size, 1);
  assert.equal(ipToString(p.allocate()!), '10.10.0.6');
  assert.equal(p.allocate(), undefined);
  assert.throws(() => new IpPool(ip('10.10.0.4'), ip('255.255.255.254')), /too small/);
  assert.throws(() => new IpPool(ip('10.10.0.4'), ip('255.255.255.255')), /too small/);
});

test('/16 pools work across the third octet', () => {
  const p = new IpPool(ip('172.16.0.0'), ip('255.255.0.0'));
  assert.equal(p.size, 65533);
  assert.equal(p.allocate(ip('172.16.3.0'))!, ip('172.16.3.0'));   // .0 of an inner /24 is a normal host here
  assert.equal(p.isClientAddress(ip('172.16.255.254')), true);
  assert.equal(p.isClientAddress(ip('172.16.255.255')), false);
});
