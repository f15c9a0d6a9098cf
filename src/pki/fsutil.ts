// File writes for the PKI directory: new files are created exclusively (never overwritten), replaced files
// (index, CRL) go through a temporary file and a rename so a reader never sees half a file.
import { closeSync, existsSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { PkiError } from './errors.js';

export function writeNew(file: string, data: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new PkiError(`${file} already exists; refusing to overwrite it`);
    throw new PkiError(`cannot create ${file}: ${(e as Error).message}`);
  }
  try {
    fchmodSync(fd, mode);
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeNew(tmp, data, mode);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof PkiError) throw e;
    throw new PkiError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

export function refuseExisting(...files: string[]): void {
  for (const f of files) if (existsSync(f)) throw new PkiError(`${f} already exists; refusing to overwrite it`);
}
