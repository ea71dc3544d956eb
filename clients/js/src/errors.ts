/** Why a request or a connection failed; every error the client raises is one of these. */
export class PasserelleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The socket could not be opened: daemon not running, wrong token (HTTP 401), origin refused (403). */
export class ConnectError extends PasserelleError {}

/** A request was sent while no connection was open, or the connection dropped before its answer. */
export class NotConnectedError extends PasserelleError {}

/** No `bridge/response/<cmd>` with our transaction arrived in time. */
export class RequestTimeoutError extends PasserelleError {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer to ${command} within ${timeoutMs} ms`);
  }
}

/** The daemon answered with `"status": "error"`; `code` is its stable error code. */
export class RequestError extends PasserelleError {
  constructor(
    readonly command: string,
    readonly code: string,
    message: string,
  ) {
    super(`${command} failed: ${code}: ${message}`);
  }
}
