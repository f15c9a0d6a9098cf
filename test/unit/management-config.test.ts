// The directives that modify the management interface, with OpenVPN 2.6's rules, and the user/group lookup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import type { ServerConfig } from '../../src/config/types.js';
import { groupId, userId } from '../../src/config/unix-ids.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
before(() => { fx = makeConfigFixture(); setLogSink(() => {}); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });

const build = (extra: string): ServerConfig => buildServerConfig(STOCK_CONFIG + extra, join(fx.dir, 'server.conf'), fx.dir) as ServerConfig;
function fails(extra: string, re: RegExp): void {
  assert.throws(() => build(extra), (e: unknown) => e instanceof ConfigError && re.test(e.message));
}

test('management-client-auth, -hold, -log-cache, echo/parameter are read', () => {
  const c = build('management 127.0.0.1 7505\nmanagement-client-auth\nmanagement-hold\nmanagement-log-cache 10\necho msg hello there\nparameter x 1\n');
  assert.equal(c.managementClientAuth, true);
  assert.equal(c.managementHold, true);
  assert.equal(c.managementLogCache, 10);
  assert.deepEqual(c.echo, ['msg hello there', 'x 1']);
  fails('management 127.0.0.1 7505\nmanagement-log-cache 0\n', /management-log-cache/);
  fails('management 127.0.0.1 7505\nmanagement-hold 1\n', /management-hold/);
});

test('a management modifier without a management line is an error, as in 2.6', () => {
  fails('management-client-auth\n', /'management-client-auth' modifies the management interface, but there is no 'management' line/);
  fails('management-hold\n', /no 'management' line/);
});

test('management-client-user/-group: only with a unix socket; names from /etc/passwd and /etc/group, or numbers', () => {
  const c = build('management mgmt.sock unix\nmanagement-client-user 1234\nmanagement-client-group root\n');
  assert.equal(c.managementClientUser, 1234);
  assert.equal(c.managementClientGroup, 0);
  fails('management 127.0.0.1 7505\nmanagement-client-user root\n', /can only be used with a unix socket/);
  fails('management mgmt.sock unix\nmanagement-client-user no-such-user-here\n', /no user 'no-such-user-here' in \/etc\/passwd/);
  fails('management mgmt.sock unix\nmanagement-client-group no-such-group-here\n', /no group 'no-such-group-here'/);
});

test('userId/groupId read the name:x:id: lines of their files', () => {
  const passwd = join(fx.dir, 'passwd');
  writeFileSync(passwd, 'root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\nbroken:x:notanumber:1\n');
  assert.equal(userId('alice', passwd), 1001);
  assert.equal(userId('root', passwd), 0);
  assert.equal(userId('broken', passwd), undefined);
  assert.equal(userId('bob', passwd), undefined);
  assert.equal(groupId('77', passwd), 77);
  assert.equal(userId('alice', join(fx.dir, 'missing')), undefined);
});
