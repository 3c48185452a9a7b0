/** What the run manager needs of a connected client, and the error a request is answered with. */
import type { ErrorCode, ServerMessage } from '../protocol/messages.js';

export interface Peer {
  readonly id: number;
  readonly open: boolean;
  /** Bytes queued on the socket, not yet sent. */
  readonly bufferedAmount: number;
  send(msg: ServerMessage): void;
  sendBinary(frame: Uint8Array): void;
  /** Resolves when the send buffer has drained below the low-water mark, or the peer closed. */
  drained(): Promise<void>;
  close(code: number, reason: string): void;
}

/** A request that cannot be served: answered with an `error` message, logged, and nothing else. */
export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: string[],
  ) {
    super(message);
    this.name = 'RequestError';
  }
}
