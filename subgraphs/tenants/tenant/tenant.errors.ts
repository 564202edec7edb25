import { Errors } from "../../../kernel/errors.js";

export const TenantErrors = {
  notFound: (id: string) => Errors.notFound("Tenant", id),
  slugTaken: () => Errors.conflict("This slug is taken", "slug"),
  badSlug: () => Errors.badInput("slug must be 3–63 lower-case letters, digits and single hyphens", "slug"),
  badName: () => Errors.badInput("name must be 1 to 200 characters", "name"),
  badTrial: () => Errors.badInput("trialDays must be between 0 and 365", "trialDays"),
  badTransition: (from: string, to: string) => Errors.conflict(`A ${from} tenant cannot become ${to}`, "status"),
  badCursor: () => Errors.badInput("after is not a cursor from this list", "after"),
  badRetention: (min: number, max: number) => Errors.badInput(`days must be a whole number from ${min} to ${max}, or null for the plan's default`, "days"),
  badPageSize: (max: number) => Errors.badInput(`first must be between 1 and ${max}`, "first"),
};
