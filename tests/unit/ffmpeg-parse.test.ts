/**
 * The pure command layer: tokenizer, placeholders and names, option grammar, argv layout, chain rules
 * and the filtergraph reader/writer. Hostile commands are in ffmpeg-hostile.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { emitGraph, type Graph, getToken, parseArgs, parseGraph } from "../../src/media/ffmpeg/filtergraph";
import {
  CommandError,
  INPUT_DEMUXER_WHITELIST,
  inputPolicy,
  planChain,
  planCommand,
  tokenize,
  validateAlias,
  validateOutputFilename,
} from "../../src/media/ffmpeg/index";
import { PROBE_FORMAT_WHITELIST } from "../../src/media/ffprobe";

/** Runs `fn` and returns the CommandError it throws. */
function refused(fn: () => unknown): CommandError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CommandError);
    return e as CommandError;
  }
  throw new Error("expected a CommandError");
}

const IO = { inputs: ["in_video"], outputs: ["out_video"] };
const PATHS = { in_video: "/jobs/j1/in_video.mp4", out_video: "/jobs/j1/out/video.mp4" };

describe("tokenize", () => {
  test("splits on blanks; quotes and backslashes as in sh; no expansion", () => {
    expect(tokenize("  -i  a\tb ")).toEqual(["-i", "a", "b"]);
    expect(tokenize(`-vf 'scale=1:2,fps=3' -metadata "title=a \\"b\\" \\$HOME \\x"`)).toEqual([
      "-vf",
      "scale=1:2,fps=3",
      "-metadata",
      'title=a "b" $HOME \\x',
    ]);
    expect(tokenize("a\\ b c\\'d \"\" ''")).toEqual(["a b", "c'd", "", ""]);
    expect(tokenize("x$(id)`id`;|&><<in_a>>")).toEqual(["x$(id)`id`;|&><<in_a>>"]);
    expect(tokenize("-i a \\\n -c copy b")).toEqual(["-i", "a", "-c", "copy", "b"]);
    expect(tokenize('"a\\\nb"')).toEqual(["ab"]);
  });

  test("refuses NUL, CR, bare LF, other control characters, unbalanced quotes, a trailing backslash", () => {
    for (const [cmd, token] of [
      ["-i a\0b", "\0"],
      ["-i a\r b", "\r"],
      ["-i a\nb", "\n"],
      ["'a\nb'", "\n"],
      ['"a\nb"', "\n"],
      ["a\u001bb", "\u001b"],
      ["'abc", "'abc"],
      ['x "abc', '"abc'],
      ["abc\\", "\\"],
    ] as const) {
      expect(refused(() => tokenize(cmd)).token).toBe(token);
    }
  });
});

describe("names and placeholders", () => {
  test("aliases by role (Decision 8)", () => {
    expect(validateAlias("in_video", "in")).toBeNull();
    expect(validateAlias("out_thumb_1", "out")).toBeNull();
    for (const bad of ["video", "in-video", "in_video.mp4", "in_", "IN_x", "in_a b"]) {
      expect(validateAlias(bad, "in")).not.toBeNull();
    }
    expect(validateAlias("out_x", "in")).not.toBeNull();
  });

  test("output file names (Decision 8)", () => {
    for (const good of ["video.mp4", "a.b.c", "x_1-2.webm", "_a.png", `${"a".repeat(251)}.mp4`]) {
      expect(validateOutputFilename(good)).toBeNull();
    }
    for (const bad of [
      "video",
      ".mp4",
      "-x.mp4",
      "a/b.mp4",
      "a\\b.mp4",
      "a b.mp4",
      "x.",
      `${"a".repeat(252)}.mp4`,
    ]) {
      expect(validateOutputFilename(bad)).not.toBeNull();
    }
  });

  test("{{a}}, {{ a }}, <<a>>, << a >> are one placeholder; a leading ffmpeg is ignored", () => {
    for (const cmd of [
      "ffmpeg -i {{in_video}} {{out_video}}",
      "-i {{ in_video }} {{\tout_video }}",
      "-i <<in_video>> << out_video >>",
      "ffmpeg -i '{{in_video}}' \"<<out_video>>\"",
    ]) {
      expect(planCommand(cmd, IO).argv(PATHS, [])).toEqual([
        "ffmpeg",
        ...inputPolicy(),
        "-i",
        PATHS.in_video,
        PATHS.out_video,
      ]);
    }
  });
});

describe("options and argv", () => {
  test("argv layout: server globals, user globals, input opts + policy + -i, output opts + path; -y dropped", () => {
    const step = planCommand(
      "ffmpeg -y -ss 1 -i {{in_video}} -hide_banner -c:v libx264 -crf 23 -filter_complex [0:v]null[v] -map [v] {{out_video}}",
      IO,
    );
    expect(step.argv(PATHS, ["-nostdin", "-y"])).toEqual([
      "ffmpeg",
      ...["-nostdin", "-y", "-hide_banner", "-filter_complex", "[0:v]null[v]"],
      ...["-ss", "1", ...inputPolicy(), "-i", PATHS.in_video],
      ...["-c:v", "libx264", "-crf", "23", "-map", "[v]", PATHS.out_video],
    ]);
    expect(step).toMatchObject({ inputsUsed: ["in_video"], outputsWritten: ["out_video"], filterInputs: [] });
  });

  test("the input policy: file protocol only, whitelisted demuxers (probe list + text subtitles)", () => {
    expect(inputPolicy()).toEqual([
      "-protocol_whitelist",
      "file",
      "-format_whitelist",
      INPUT_DEMUXER_WHITELIST,
    ]);
    expect(INPUT_DEMUXER_WHITELIST.startsWith(PROBE_FORMAT_WHITELIST)).toBe(true);
    for (const bad of ["hls", "concat", "lavfi", "data", "image2", "tty", "dash", "tee"]) {
      expect(INPUT_DEMUXER_WHITELIST.split(",")).not.toContain(bad);
    }
  });

  test("common real-world commands are accepted", () => {
    const d = { inputs: ["in_video", "in_2"], outputs: ["out_video"] };
    for (const cmd of [
      "-i {{in_video}} -c:v libx264 -preset veryfast -tune film -profile:v high -level 4.1 -pix_fmt yuv420p -b:v 2M -maxrate 2.5M -bufsize 5M -g 48 -bf 2 -c:a aac -b:a 128k -ar 48000 -ac 2 -movflags +faststart",
      "-ss 00:00:05.5 -t 10 -i {{in_video}} -vf scale=1280:-2,fps=30 -r 30000/1001 -an -sn -dn -f mp4",
      "-stream_loop 1 -itsoffset 0.5 -i {{in_video}} -map 0:v:0 -map 0:a? -map -0:s -c copy -shortest -to 1:02",
      "-i {{in_video}} -vn -c:a libmp3lame -q:a 2 -metadata title='My Song / Live' -metadata:s:a:0 language=eng",
      "-i {{in_video}} -vf \"select='eq(n\\,0)',crop=in_w/2:in_h/2,transpose=1,hflip,rotate=PI/6:c=black\" -frames:v 1 -update 1 -f image2",
      "-i {{in_video}} -c:v libx265 -x265-params keyint=60:no-open-gop=1:log-level=error -tag:v hvc1 -crf 28",
      "-i {{in_video}} -c:v libvpx-vp9 -b:v 0 -crf 30 -deadline realtime -cpu-used 8 -row-mt 1 -c:a libopus -f webm",
      '-i {{in_video}} -af "silenceremove=1:0:-50dB,atempo=2.0,volume=2,highpass=f=200,afade=t=out:st=4:d=1" -threads 4',
      "-i {{in_video}} -filter_complex \"[0:a]showwaves=s=640x120:mode=line[w];[0:v][w]overlay=0:H-h,zoompan=z='min(zoom+0.0015,1.5)':d=25\" -fps_mode cfr",
      "-loglevel error -nostdin -loop 1 -framerate 1 -i {{in_video}} -t 3 -vf fade=in:0:25,format=yuv420p -disposition:v:0 default",
      '-i {{in_video}} -filter_complex "[0:a]asplit[a][b];[a][b]amix=inputs=2:duration=first,loudnorm=I=-16:TP=-1.5" -x264-params keyint=48:scenecut=0',
    ]) {
      expect(() => planCommand(`-i {{in_2}} ${cmd} {{out_video}}`, d)).not.toThrow();
    }
  });

  test("filter file inputs are reported; placeholders inside graphs become escaped paths", () => {
    const step = planCommand(
      "-i {{in_video}} -vf \"subtitles=f={{in_subs}}:force_style='Fontsize=24',drawtext=fontfile=<<in_font>>:text=hi\" {{out_video}}",
      { inputs: ["in_video", "in_subs", "in_font"], outputs: ["out_video"] },
    );
    expect(step.inputsUsed.sort()).toEqual(["in_font", "in_subs", "in_video"]);
    expect(step.filterInputs).toEqual([
      { alias: "in_subs", filter: "subtitles", option: "f" },
      { alias: "in_font", filter: "drawtext", option: "fontfile" },
    ]);
    const argv = step.argv({ ...PATHS, in_subs: "/j/s.srt", in_font: "/j/f.ttf" }, []);
    expect(argv).toContain("subtitles=f=/j/s.srt:force_style=Fontsize=24,drawtext=fontfile=/j/f.ttf:text=hi");
  });

  test("argv() refuses missing or unsafe server paths (a server bug, not a user error)", () => {
    const step = planCommand("-i {{in_video}} {{out_video}}", IO);
    expect(() => step.argv({ in_video: "/a.mp4" }, [])).toThrow("no path");
    for (const bad of ["rel.mp4", "/a/../b.mp4", "/a/%d.png", "/a/b c.mp4", "/a/b:c.mp4"]) {
      expect(() => step.argv({ ...PATHS, out_video: bad }, [])).toThrow("unsafe path");
    }
  });
});

describe("chains", () => {
  const decl = { inputs: ["in_video"], outputs: ["out_video", "out_thumb"] };

  test("intermediates and earlier outputs flow forward", () => {
    const steps = planChain(
      [
        "-i {{in_video}} -vf scale=320:-2 intermediate.mp4",
        "-i intermediate.mp4 -c copy {{out_video}}",
        "-i {{out_video}} -frames:v 1 {{out_thumb}}",
      ],
      decl,
    );
    expect(
      steps.map((s) => [s.inputsUsed, s.outputsRead, s.intermediatesRead, s.intermediatesWritten]),
    ).toEqual([
      [["in_video"], [], [], ["intermediate.mp4"]],
      [[], [], ["intermediate.mp4"], []],
      [[], ["out_video"], [], []],
    ]);
    const argv = steps[1]!.argv({ ...PATHS, out_thumb: "/jobs/j1/out/t.png" }, []);
    expect(argv.slice(-5)).toEqual(["-i", "intermediate.mp4", "-c", "copy", PATHS.out_video]);
  });

  test("every chain rule names the offending token", () => {
    const cases: [string[], string][] = [
      [
        ["-i intermediate.mp4 {{out_video}}", "-i {{in_video}} intermediate.mp4 {{out_thumb}}"],
        "intermediate.mp4",
      ],
      [["-i {{in_video}} {{out_video}}", "-i {{out_thumb}} {{out_thumb}}"], "{{out_thumb}}"],
      [["-i {{in_video}} {{out_video}} {{out_thumb}}", "-i {{in_video}} {{out_video}}"], "{{out_video}}"],
      [["-i {{in_video}} a.mp4", "-i a.mp4 a.mp4 {{out_video}} {{out_thumb}}"], "a.mp4"],
      [["-i {{in_video}} tmp/a.mp4 {{out_video}} {{out_thumb}}"], "tmp/a.mp4"],
      [["-i {{in_video}} {{out_video}}"], "out_thumb"],
      [["-i {{in_video}} {{out_video}}", "-i {{out_video}} -f null x.nut"], "out_thumb"],
      [
        ["-i {{in_video}} -vf subtitles={{out_video}} {{out_thumb}}", "-i {{in_video}} {{out_video}}"],
        "{{out_video}}",
      ],
    ];
    for (const [commands, token] of cases) expect(refused(() => planChain(commands, decl)).token).toBe(token);
    expect(refused(() => planChain([], decl)).message).toContain("at least one");
    expect(refused(() => planChain(Array(11).fill("-i {{in_video}} {{out_video}}"), decl)).message).toContain(
      "10",
    );
  });
});

describe("filtergraph reader and writer (libavfilter 5.1 rules)", () => {
  test("av_get_token: escapes, quotes, terminators, whitespace trimming", () => {
    expect(getToken("  a\\,b' c,d ' e ,x", 0, ",")).toEqual(["a,b c,d  e", 16]);
    expect(getToken("'unterminated", 0, ",")).toEqual(["unterminated", 13]);
    expect(getToken("a\\ ", 0, ",")).toEqual(["a ", 3]);
  });

  test("option level: keys, positional values, escaped separators", () => {
    expect(parseArgs("320:-2:flags=lanczos")).toEqual([
      { key: null, value: "320" },
      { key: null, value: "-2" },
      { key: "flags", value: "lanczos" },
    ]);
    expect(parseArgs("text='a\\:b=c' : x = 1:expr=if(eq(n\\,0)\\,1\\,0)")).toEqual([
      { key: "text", value: "a\\:b=c" },
      { key: "x", value: "1" },
      { key: "expr", value: "if(eq(n,0),1,0)" },
    ]);
  });

  test("graph level: chains, labels, quoted and escaped separators", () => {
    const g = parseGraph(" [0:v] scale=1:2 [a] ; [a][1:v]overlay=x='W-w':y=0, split=2 [o1][o2]");
    expect(g.map((c) => c.map((f) => [f.inputs, f.name, f.outputs]))).toEqual([
      [[["0:v"], "scale", ["a"]]],
      [
        [["a", "1:v"], "overlay", []],
        [[], "split", ["o1", "o2"]],
      ],
    ]);
    expect(parseGraph("scale='1:1,movie=x'")[0]).toHaveLength(1);
    expect(parseGraph("scale=1:1\\,movie=x")[0]).toHaveLength(1);
    expect(parseGraph("mo'vie'=x")[0]![0]!.name).toBe("movie");
    expect(refused(() => parseGraph("scale=1[a")).token).toBe("[a");
    expect(parseGraph("scale]x")[0]![0]!.name).toBe("scale]x");
  });

  test("writing back and reading again gives the same graph", () => {
    for (const text of [
      "scale=320:-2:flags=lanczos,setsar=1",
      "drawtext=text=It\\\\\\'s 10\\\\\\:00\\, \\[ok\\]\\; a=b:x=(w-tw)/2,select='eq(n\\,0)'",
      "[0:v][1:v]overlay=W-w-5:H-h-5[v];[0:a]volume=0.5[a]",
      "drawtext=text=' lead and trail ':fontsize=12",
      "pan=stereo|c0=c1|c1=c0",
      "geq=lum='p(X,Y)':cb=128:cr=128",
    ]) {
      const g = parseGraph(text);
      expect(parseGraph(emitGraph(g, (_n, a) => a.value))).toEqual(g);
    }
    for (const value of [" a:b, [c]; 'd' \\ ", "k=v", "\\", "'", " "]) {
      for (const key of [null, "text"]) {
        const g: Graph = [[{ inputs: ["0:v"], name: "drawtext", args: [{ key, value }], outputs: ["o"] }]];
        expect(parseGraph(emitGraph(g, (_n, a) => a.value))).toEqual(g);
      }
    }
  });
});
