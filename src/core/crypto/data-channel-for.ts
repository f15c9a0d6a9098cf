// The data channel of a negotiated cipher: AEAD (data-channel.ts) or CBC + HMAC with the `auth` digest
// (cbc-hmac-channel.ts), keyed from the 256-byte key block.
import { isAeadCipher, type CipherName } from './ciphers.js';
import type { DigestName } from './digests.js';
import type { AeadEngine } from './aead.js';
import type { SymmetricEngine } from './symmetric.js';
import { AeadDataChannel, clientDataKeys, DATA_V2_OVERHEAD, serverDataKeys, type DataChannel } from './data-channel.js';
import { CbcHmacChannel, cbcMaxPayload, clientCbcKeys, serverCbcKeys } from './cbc-hmac-channel.js';

export interface DataChannelForOptions {
  replayWindow?: number;
  replaySeconds?: number;
  initialSendPacketId?: number;
  aead?: AeadEngine;
  symmetric?: SymmetricEngine;
}

/** The server's side: encrypts with K[128..), decrypts with K[0..). `auth` matters only for CBC ciphers. */
export function serverDataChannel(keyBlock: Buffer, cipher: CipherName, auth: DigestName, opts: DataChannelForOptions = {}): DataChannel {
  return isAeadCipher(cipher)
    ? new AeadDataChannel(serverDataKeys(keyBlock, cipher), opts)
    : new CbcHmacChannel(serverCbcKeys(keyBlock, cipher, auth), opts);
}

/** The client's side (tests and the simulated client): encrypts with K[0..), decrypts with K[128..). */
export function clientDataChannel(keyBlock: Buffer, cipher: CipherName, auth: DigestName, opts: DataChannelForOptions = {}): DataChannel {
  return isAeadCipher(cipher)
    ? new AeadDataChannel(clientDataKeys(keyBlock, cipher), opts)
    : new CbcHmacChannel(clientCbcKeys(keyBlock, cipher, auth), opts);
}

/** The largest payload (compression framing + IP packet) whose P_DATA_V2 packet is at most `packetLen` bytes. */
export function maxPayloadWithin(packetLen: number, cipher: CipherName, auth: DigestName): number {
  return isAeadCipher(cipher) ? packetLen - DATA_V2_OVERHEAD : cbcMaxPayload(auth, packetLen);
}
