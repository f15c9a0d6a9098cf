// `nanovpn profile`: print a ready-to-import .ovpn for one client of the built-in CA.
import { buildProfile } from '../pki/profile.js';
import { parseFlags, reportError, required, UsageError } from './pki-args.js';

const USAGE = 'nanovpn profile --dir DIR --name NAME --remote HOST [--port N] [--proto udp|tcp]';

export async function profile(args: string[]): Promise<number> {
  try {
    const { values } = parseFlags(args, {
      dir: { type: 'string' }, name: { type: 'string' }, remote: { type: 'string' },
      port: { type: 'string' }, proto: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    });
    if (values.help) { console.log(`usage: ${USAGE}`); return 0; }
    const dir = required(values.dir, '--dir');
    const name = required(values.name, '--name');
    const remote = required(values.remote, '--remote');
    let port: number | undefined;
    if (values.port !== undefined) {
      if (!/^\d{1,5}$/.test(values.port) || +values.port < 1 || +values.port > 65535) {
        throw new UsageError(`--port must be a number from 1 to 65535, got '${values.port}'`);
      }
      port = +values.port;
    }
    const proto = values.proto;
    if (proto !== undefined && proto !== 'udp' && proto !== 'tcp') throw new UsageError(`--proto must be udp or tcp, got '${proto}'`);
    console.log(buildProfile(dir, { name, remote, port, proto }).replace(/\n$/, ''));
    return 0;
  } catch (e) {
    return reportError('nanovpn profile', e, USAGE);
  }
}
