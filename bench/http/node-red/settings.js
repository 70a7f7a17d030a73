// Headless Node-RED settings for bench/http/run.sh: no editor and no admin API, no
// credential prompts, the flow file in the user dir, warnings only on the console. The
// script passes --userDir (a cache dir outside git, holding a copy of flows.json) and --port.
module.exports = {
  uiHost: "127.0.0.1",
  httpAdminRoot: false,  // no editor, no admin API
  httpNodeRoot: "/",
  disableEditor: true,
  flowFile: "flows.json",
  flowFilePretty: true,
  credentialSecret: false,  // no credentials file, no key prompt
  logging: {
    console: { level: "warn", metrics: false, audit: false },
  },
  diagnostics: { enabled: false, ui: false },
  runtimeState: { enabled: false, ui: false },
  telemetry: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  functionExternalModules: false,
};
