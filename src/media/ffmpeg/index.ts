/**
 * The pure ffmpeg command layer: user command string → checked, planned steps → argv. No processes
 * are started here (src/media/runner.ts does that). See policy.ts for what ffmpeg may open.
 */
export { CommandError } from "./errors";
export { type Graph, parseGraph } from "./filtergraph";
export { ALLOWED_FILTERS, FORBIDDEN_FILTERS } from "./filters";
export { validateAlias, validateOutputFilename } from "./placeholders";
export { type AliasDecl, type PathMap, type PlannedStep, planChain, planCommand } from "./plan";
export {
  INPUT_DEMUXER_WHITELIST,
  inputPolicy,
  OUTPUT_FORMATS,
  SUBTITLE_DEMUXER_WHITELIST,
} from "./policy";
export { tokenize } from "./tokenize";
