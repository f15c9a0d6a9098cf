// Errors meant for a person: the message is one line that says what is wrong and with which file or name.
export class PkiError extends Error {
  override name = 'PkiError';
}
