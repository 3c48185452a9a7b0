/** What the run manager needs of a connected client, and the error a request is answered with. */
import type { ErrorCode, ServerMessage } from '../protocol/messages.js';

export interface Peer {
  readonly id: number;
  readonly open: boolean;
  /** More unread data is queued than a replay should add to before it waits (half the client's limit, at most 1 MiB). */
  readonly congested: boolean;
  send(msg: ServerMessage): void;
  sendBinary(frame: Uint8Array): void;
  /**
   * Resolves when the queued data has drained below the low-water mark (a quarter of the limit, at
   * most 256 KiB), or the peer closed; a client that reads nothing for a while is closed as too slow.
   */
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
