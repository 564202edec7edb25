// ESM mode (MikroORM 7 and jose 6 are ESM-only): `npm test` sets NODE_OPTIONS=--experimental-vm-modules.
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      {
        jsc: {
          parser: { syntax: "typescript", decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
          target: "es2022",
        },
        module: { type: "es6" },
      },
    ],
  },
  testMatch: ["<rootDir>/{bin,kernel,gateway,subgraphs,schema,simulators,test}/**/*.test.ts"],
  reporters: ["default", "<rootDir>/test/harness/summary-reporter.cjs"],
  maxWorkers: 2,
  testTimeout: 60000,
};
