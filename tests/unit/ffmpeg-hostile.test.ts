/**
 * The hostile battery: every command here must be refused at submit time with a CommandError whose
 * `token` is the exact piece of the user's command that was refused (the API answers 400).
 */
import { describe, expect, test } from "bun:test";
import { type AliasDecl, CommandError, planCommand } from "../../src/media/ffmpeg/index";

const DECL: AliasDecl = { inputs: ["in_a", "in_b"], outputs: ["out_a"] };

/** [what, command, offending token]; commands use in_a, in_b and out_a unless said otherwise. */
const BATTERY: [string, string, string][] = [
  // inputs outside the job
  ["server file as input", "-i /etc/passwd -i {{in_a}} -i {{in_b}} {{out_a}}", "/etc/passwd"],
  ["file: URL", "-i file:/etc/passwd -i {{in_a}} -i {{in_b}} {{out_a}}", "file:/etc/passwd"],
  ["concat: protocol", "-i concat:{{in_a}}|{{in_b}} {{out_a}}", "concat:{{in_a}}|{{in_b}}"],
  [
    "concat: protocol, literal",
    "-i concat:a.mp4|b.mp4 -i {{in_a}} -i {{in_b}} {{out_a}}",
    "concat:a.mp4|b.mp4",
  ],
  ["network input", "-i http://127.0.0.1/ -i {{in_a}} -i {{in_b}} {{out_a}}", "http://127.0.0.1/"],
  ["-i with a bare name", "-i video.mp4 -i {{in_a}} -i {{in_b}} {{out_a}}", "video.mp4"],
  ["-i with two placeholders", "-i {{in_a}}{{in_b}} {{out_a}}", "{{in_a}}{{in_b}}"],
  ["/proc via data demuxer", "-f data -i /proc/self/environ -i {{in_a}} -i {{in_b}} {{out_a}}", "data"],
  // demuxers that open other files
  ["-f lavfi", "-f lavfi -i movie=/etc/passwd -i {{in_a}} -i {{in_b}} {{out_a}}", "lavfi"],
  ["-f hls on an input alias", "-f hls -i {{in_a}} -i {{in_b}} {{out_a}}", "hls"],
  ["-f concat on an input alias", "-f concat -safe 0 -i {{in_a}} -i {{in_b}} {{out_a}}", "-safe"],
  ["-f concat on an input alias", "-f concat -i {{in_a}} -i {{in_b}} {{out_a}}", "concat"],
  ["-f lavfi on an input alias", "-f lavfi -i {{in_a}} -i {{in_b}} {{out_a}}", "lavfi"],
  ["-f data on an input alias", "-f data -i {{in_a}} -i {{in_b}} {{out_a}}", "data"],
  ["-f image2 input (patterns)", "-f image2 -i {{in_a}} -i {{in_b}} {{out_a}}", "image2"],
  // the server's own input policy
  [
    "user protocol whitelist",
    "-protocol_whitelist file,http -i {{in_a}} -i {{in_b}} {{out_a}}",
    "-protocol_whitelist",
  ],
  ["user format whitelist", "-format_whitelist hls -i {{in_a}} -i {{in_b}} {{out_a}}", "-format_whitelist"],
  ["user enable_drefs", "-enable_drefs 1 -i {{in_a}} -i {{in_b}} {{out_a}}", "-enable_drefs"],
  // options that read or write server files, or reach the network
  ["-attach", "-i {{in_a}} -i {{in_b}} -attach /etc/passwd {{out_a}}", "-attach"],
  ["-dump_attachment", "-dump_attachment:t ../x -i {{in_a}} -i {{in_b}} {{out_a}}", "-dump_attachment:t"],
  [
    "-filter_complex_script",
    "-filter_complex_script /etc/passwd -i {{in_a}} -i {{in_b}} {{out_a}}",
    "-filter_complex_script",
  ],
  ["-filter_script", "-i {{in_a}} -i {{in_b}} -filter_script:v /etc/passwd {{out_a}}", "-filter_script:v"],
  ["-progress", "-progress http://127.0.0.1/ -i {{in_a}} -i {{in_b}} {{out_a}}", "-progress"],
  ["-report", "-report -i {{in_a}} -i {{in_b}} {{out_a}}", "-report"],
  ["-vstats_file", "-vstats_file /tmp/x -i {{in_a}} -i {{in_b}} {{out_a}}", "-vstats_file"],
  ["-passlogfile", "-i {{in_a}} -i {{in_b}} -passlogfile /tmp/x {{out_a}}", "-passlogfile"],
  ["-pass", "-i {{in_a}} -i {{in_b}} -pass 1 {{out_a}}", "-pass"],
  ["x264 stats file", "-i {{in_a}} -i {{in_b}} -x264-params stats=/tmp/x {{out_a}}", "stats=/tmp/x"],
  ["x265 csv file", "-i {{in_a}} -i {{in_b}} -x265-params crf=20:csv=/tmp/x {{out_a}}", "crf=20:csv=/tmp/x"],
  ["x265 file value", "-i {{in_a}} -i {{in_b}} -x265-params log-level=/tmp/x {{out_a}}", "log-level=/tmp/x"],
  ["x264opts", "-i {{in_a}} -i {{in_b}} -x264opts stats=/x {{out_a}}", "-x264opts"],
  ["-/opt loads a value from a file", "-i {{in_a}} -i {{in_b}} -/vf /etc/passwd {{out_a}}", "-/vf"],
  ["-/filter_complex", "-/filter_complex /etc/passwd -i {{in_a}} -i {{in_b}} {{out_a}}", "-/filter_complex"],
  ["unknown option", "-i {{in_a}} -i {{in_b}} -sws_flags bicubic {{out_a}}", "-sws_flags"],
  // outputs
  ["path traversal output", "-i {{in_a}} -i {{in_b}} {{out_a}} ../../x.mp4", "../../x.mp4"],
  ["absolute output", "-i {{in_a}} -i {{in_b}} {{out_a}} /tmp/x.mp4", "/tmp/x.mp4"],
  ["stdout output", "-i {{in_a}} -i {{in_b}} {{out_a}} -", "-"],
  ["pipe output", "-i {{in_a}} -i {{in_b}} {{out_a}} pipe:1", "pipe:1"],
  ["intermediate in a single command", "-i {{in_a}} -i {{in_b}} {{out_a}} x.mp4", "x.mp4"],
  ["-f tee to two paths", "-i {{in_a}} -i {{in_b}} -f tee [f=mp4]a.mp4|[f=mp4]/tmp/b.mp4 {{out_a}}", "tee"],
  ["-f segment", "-i {{in_a}} -i {{in_b}} -f segment {{out_a}}", "segment"],
  ["-f hls output", "-i {{in_a}} -i {{in_b}} -f hls {{out_a}}", "hls"],
  ["two outputs to one alias", "-i {{in_a}} -i {{in_b}} {{out_a}} -c copy {{out_a}}", "{{out_a}}"],
  ["input alias as an output", "-i {{in_a}} {{out_a}} {{in_b}}", "{{in_b}}"],
  ["output alias as an input", "-i {{in_a}} -i {{in_b}} -i {{out_a}} {{out_a}}", "{{out_a}}"],
  ["trailing output option", "-i {{in_a}} -i {{in_b}} {{out_a}} -c:v libx264", "-c:v"],
  ["output option before -i", "-vf hflip -i {{in_a}} -i {{in_b}} {{out_a}}", "-vf"],
  // placeholders
  ["undeclared alias", "-i {{in_a}} -i {{in_b}} -i {{in_other}} {{out_a}}", "{{in_other}}"],
  ["declared alias not used", "-i {{in_a}} {{out_a}}", "in_b"],
  ["placeholder in metadata", "-i {{in_a}} -i {{in_b}} -metadata title={{in_a}} {{out_a}}", "title={{in_a}}"],
  ["malformed placeholder", "-i {{in_a}} -i {{in_b}} {{out-a}}", "{{out-a}}"],
  // filters
  ["movie", "-i {{in_a}} -i {{in_b}} -vf movie=/etc/passwd {{out_a}}", "movie"],
  ["movie in filter_complex", "-i {{in_a}} -i {{in_b}} -filter_complex [in]movie=x[out] {{out_a}}", "movie"],
  ["amovie via -lavfi", "-lavfi amovie=/etc/passwd -i {{in_a}} -i {{in_b}} {{out_a}}", "amovie"],
  ["movie quoted in the name", "-i {{in_a}} -i {{in_b}} -vf \"mo'vie'=/etc/passwd\" {{out_a}}", "movie"],
  [
    "hidden in quotes",
    "-i {{in_a}} -i {{in_b}} -vf \"scale='1:1,movie=/etc/passwd'\" {{out_a}}",
    "1,movie=/etc/passwd",
  ],
  [
    "hidden with \\,",
    "-i {{in_a}} -i {{in_b}} -vf 'scale=1:1\\,movie=/etc/passwd' {{out_a}}",
    "1,movie=/etc/passwd",
  ],
  [
    "hidden with ' escapes",
    "-i {{in_a}} -i {{in_b}} -vf \"scale=1:1',movie=/etc/passwd'\" {{out_a}}",
    "1,movie=/etc/passwd",
  ],
  ["sendcmd", "-i {{in_a}} -i {{in_b}} -vf sendcmd=f=/etc/passwd,null {{out_a}}", "sendcmd"],
  ["ladspa", "-i {{in_a}} -i {{in_b}} -af ladspa=file={{in_b}}:p {{out_a}}", "ladspa"],
  ["lv2", "-i {{in_a}} -i {{in_b}} -af lv2=p=urn:x {{out_a}}", "lv2"],
  ["frei0r", "-i {{in_a}} -i {{in_b}} -vf frei0r=filter_name={{in_b}} {{out_a}}", "frei0r"],
  ["zmq", "-i {{in_a}} -i {{in_b}} -vf zmq {{out_a}}", "zmq"],
  ["sws_flags prefix", "-i {{in_a}} -i {{in_b}} -vf sws_flags=x;null {{out_a}}", "sws_flags"],
  ["unknown filter", "-i {{in_a}} -i {{in_b}} -vf scale]x {{out_a}}", "scale]x"],
  ["subtitles literal", "-i {{in_a}} -i {{in_b}} -vf subtitles=/etc/passwd {{out_a}}", "/etc/passwd"],
  ["subtitles filename=", "-i {{in_a}} -i {{in_b}} -vf subtitles=filename=x.srt {{out_a}}", "x.srt"],
  ["subtitles fontsdir", "-i {{in_a}} -vf subtitles={{in_b}}:fontsdir=/etc {{out_a}}", "/etc"],
  ["subtitles of an output", "-i {{in_a}} -i {{in_b}} -vf subtitles={{out_a}} {{out_a}}", "{{out_a}}"],
  ["drawtext textfile", "-i {{in_a}} -i {{in_b}} -vf drawtext=textfile=/etc/passwd {{out_a}}", "/etc/passwd"],
  ["drawtext fontfile ../", "-i {{in_a}} -i {{in_b}} -vf drawtext=fontfile=../x:text=a {{out_a}}", "../x"],
  [
    "drawtext positional textfile",
    "-i {{in_a}} -vf drawtext={{in_b}}:hi:/etc/passwd {{out_a}}",
    "/etc/passwd",
  ],
  [
    "drawtext font pattern",
    "-i {{in_a}} -i {{in_b}} -vf \"drawtext=font='Sans\\:file=/x':text=a\" {{out_a}}",
    "Sans:file=/x",
  ],
  ["placeholder inside text", "-i {{in_a}} -vf drawtext=text={{in_b}} {{out_a}}", "{{in_b}}"],
  ["placeholder part of a value", "-i {{in_a}} -vf subtitles=x{{in_b}} {{out_a}}", "x{{in_b}}"],
  ["curves plot writes", "-i {{in_a}} -i {{in_b}} -vf curves=plot=/tmp/x {{out_a}}", "/tmp/x"],
  ["curves psfile literal", "-i {{in_a}} -i {{in_b}} -vf curves=psfile=/etc/passwd {{out_a}}", "/etc/passwd"],
  [
    "paletteuse debug_kdtree",
    "-i {{in_a}} -i {{in_b}} -vf paletteuse=debug_kdtree=/tmp/x {{out_a}}",
    "/tmp/x",
  ],
  [
    "paletteuse positional",
    "-i {{in_a}} -i {{in_b}} -vf paletteuse=bayer:2:rectangle:0:128:0:/tmp/x {{out_a}}",
    "/tmp/x",
  ],
  ["lut3d literal", "-i {{in_a}} -i {{in_b}} -vf lut3d=/etc/passwd {{out_a}}", "/etc/passwd"],
  ["file key on another filter", "-i {{in_a}} -i {{in_b}} -vf scale=filename=/x {{out_a}}", "/x"],
  ["positional after named", "-i {{in_a}} -i {{in_b}} -vf scale=h=100:200 {{out_a}}", "200"],
  [
    "metadata filter writes",
    "-i {{in_a}} -i {{in_b}} -vf metadata=mode=print:file=/tmp/x {{out_a}}",
    "metadata",
  ],
  ["psnr stats_file", "-i {{in_a}} -i {{in_b}} -filter_complex psnr=stats_file=/tmp/x {{out_a}}", "psnr"],
];

describe("hostile commands are refused, naming the offending token", () => {
  for (const [what, command, token] of BATTERY) {
    test(what, () => {
      let caught: unknown;
      try {
        planCommand(command, DECL);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(CommandError);
      const err = caught as CommandError;
      expect({ token: err.token, message: err.message }).toMatchObject({ token });
      expect(err.message).toContain(token);
    });
  }

  test("bad declarations are refused too", () => {
    for (const [decl, token] of [
      [{ inputs: ["video"], outputs: ["out_a"] }, "video"],
      [{ inputs: ["in_a"], outputs: ["in_b"] }, "in_b"],
      [{ inputs: ["out_x"], outputs: ["out_a"] }, "out_x"],
    ] as const) {
      let caught: CommandError | undefined;
      try {
        planCommand("-i {{in_a}} {{out_a}}", { inputs: [...decl.inputs], outputs: [...decl.outputs] });
      } catch (e) {
        caught = e as CommandError;
      }
      expect(caught?.token).toBe(token);
    }
  });
});
