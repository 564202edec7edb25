import { appError, ErrorCode } from "../../../kernel/errors.js";

export const AuthErrors = {
  /** Same answer for unknown tenant, unknown email and wrong password: nothing to enumerate. */
  invalidCredentials: () => appError(ErrorCode.UNAUTHENTICATED, "Invalid credentials"),
  userDisabled: () => appError(ErrorCode.FORBIDDEN, "This user is disabled"),
  invalidRefreshToken: () => appError(ErrorCode.UNAUTHENTICATED, "Invalid or expired refresh token"),
  tooManyAttempts: (retryAfter: number) =>
    appError(ErrorCode.RATE_LIMITED, "Too many failed sign-in attempts; try again later", { retryAfter }),
  wrongPassword: () => appError(ErrorCode.BAD_USER_INPUT, "Current password is wrong", { field: "currentPassword" }),
  weakPassword: () => appError(ErrorCode.BAD_USER_INPUT, "Password must be 12 to 1024 characters", { field: "newPassword" }),
};
