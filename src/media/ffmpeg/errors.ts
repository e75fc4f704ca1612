/**
 * The one error the command layer throws for anything a user wrote. The API answers it with
 * 400 INVALID_REQUEST (submit time); `token` is the exact piece of the user's command that was refused,
 * so the message can point at it. Messages only ever quote the user's own text, never a server path.
 */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly token?: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}
