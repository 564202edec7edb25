import { appError, ErrorCode } from "../../../kernel/errors.js";

export const AuthErrors = {
  /** Same answer for unknown tenant, unknown email and wrong password: nothing to enumerate. */
  invalidCredentials: () => appError(ErrorCode.UNAUTHENTICATED, "Invalid credentials"),
  userDisabled: () => appError(ErrorCode.FORBIDDEN, "This user is disabled"),
};
