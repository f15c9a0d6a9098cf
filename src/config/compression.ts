// The compression directives of OpenVPN 2.6 (comp-lzo, compress, allow-compression) as a framing, and the rules 2.6
// checks about them. `push "comp-lzo ..."` / `push "compress ..."` name the framing the clients will use, so it is the
// server's framing too (ServerCompression.pushed).
import type { Framing } from '../core/compression/framing.js';
import { hasAlgorithm } from '../core/compression/framing.js';

/** 'migrate' (compress migrate): per client, push a stub framing to those whose options say comp-lzo. */
export type ServerFraming = Framing | 'migrate';
export type AllowCompression = 'no' | 'asym' | 'yes';

export interface ServerCompression {
  /** From the server's own comp-lzo / compress lines; 'none' without one. */
  framing: ServerFraming;
  /** The framing a push line gives the clients, and the text pushed. */
  pushed?: { framing: Framing; option: string };
  /** allow-compression as given; undefined = not given (2.6: 'no' when no compression option is set, else asym). */
  allow?: AllowCompression;
}

export interface BadOption { error: string }

/** The framing of `comp-lzo [ARG]`. */
export function compLzoFraming(arg: string | undefined): Framing | BadOption {
  if (arg === undefined || arg === 'yes' || arg === 'adaptive') return 'lzo';
  if (arg === 'no') return 'lzo-stub';
  return { error: `bad comp-lzo option: '${arg}' -- must be 'yes', 'no', or 'adaptive'` };
}

const COMPRESS: Record<string, ServerFraming> = {
  stub: 'stub', 'stub-v2': 'stub-v2', migrate: 'migrate', lzo: 'lzo', lz4: 'lz4', 'lz4-v2': 'lz4-v2',
};

/** The framing of `compress [ALG]`. */
export function compressFraming(arg: string | undefined): ServerFraming | BadOption {
  const f = Object.hasOwn(COMPRESS, arg ?? 'stub') ? COMPRESS[arg ?? 'stub'] : undefined;
  return f ?? { error: `bad compress algorithm '${arg}' -- one of ${Object.keys(COMPRESS).join(', ')}` };
}

/** The framing a pushed option sets on the client, if it is a compression option ('migrate' is not pushable). */
export function pushedFraming(option: string): Framing | undefined | BadOption {
  const words = option.trim().split(/\s+/);
  if (words.length > 2) return undefined;
  if (words[0] === 'comp-lzo') return compLzoFraming(words[1]);
  if (words[0] === 'compress') {
    const f = compressFraming(words[1]);
    return f === 'migrate' ? { error: "'compress migrate' is a server option and cannot be pushed" } : f;
  }
  return undefined;
}

export interface CompressionVerdict {
  /** What the server frames with (the pushed framing when the server has none of its own). */
  framing: ServerFraming;
  warnings: string[];
  error?: string;
}

/** The checks 2.6 makes once all options are read, and the framing the server then uses. */
export function settleCompression(c: ServerCompression): CompressionVerdict {
  const warnings: string[] = [];
  let framing = c.framing;
  if (c.pushed) {
    if (framing === 'none') {
      framing = c.pushed.framing;
      warnings.push(`push "${c.pushed.option}" without the same option for the server: nanovpn frames the data channel as ` +
        'pushed (OpenVPN 2.6 would not, and would carry no traffic); add it to the config to say so');
    } else if (framing !== c.pushed.framing) {
      return { framing, warnings, error: `push "${c.pushed.option}" gives the clients another compression framing than the ` +
        `server's own (${framing}): no traffic would pass; push the server's setting or remove one of them` };
    }
  }
  if (framing !== 'migrate' && hasAlgorithm(framing)) {
    if (c.allow === 'no') {
      return { framing, warnings, error: "compression is not allowed since allow-compression is set to 'no'; use 'comp-lzo no' " +
        "or 'compress stub-v2' for framing only, or allow-compression asym" };
    }
    if (c.allow === 'yes') {
      warnings.push('allow-compression yes: nanovpn decompresses what clients send but never compresses what it sends ' +
        '(as allow-compression asym)');
    } else {
      warnings.push('compression for receiving enabled: packets clients compress are decompressed; sent packets are never ' +
        'compressed. Compression has been used in the past to break encryption');
    }
  }
  return { framing, warnings };
}
