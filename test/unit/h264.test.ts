import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPushgateError } from '../../src/core/errors';
import {
  h264NalType,
  H264NalType,
  isH264Keyframe,
  isH264ParameterSet,
  isH264Vcl,
  parseH264Sps,
  startsH264AccessUnit,
} from '../../src/ingest/h264';
import { BitWriter, encode, findNal, type EncodeOptions } from './helpers/media';

function spsOf(options: Omit<EncodeOptions, 'codec'>): Buffer {
  return findNal('h264', encode({ codec: 'h264', frames: 1, ...options }), H264NalType.SPS);
}

interface SpsFields {
  profileIdc?: number;
  constraintFlags?: number;
  levelIdc?: number;
  chromaFormatIdc?: number;
  separateColourPlane?: boolean;
  /** Per list: the delta_scale values to write, or undefined for "list not present". */
  scalingLists?: (readonly number[] | undefined)[];
  pocType?: 0 | 1 | 2;
  pocCycle?: readonly number[];
  widthInMbs?: number;
  heightInMapUnits?: number;
  frameMbsOnly?: boolean;
  crop?: readonly [number, number, number, number];
  vui?: {
    sar?: readonly [number, number];
    overscan?: boolean;
    colourDescription?: boolean;
    chromaLoc?: readonly [number, number];
    timing?: readonly [number, number];
  };
}

/** Writes seq_parameter_set_data() (7.3.2.1.1) field by field. */
function buildSps(f: SpsFields): Buffer {
  const w = new BitWriter();
  const profileIdc = f.profileIdc ?? 100;
  w.u(8, profileIdc).u(8, f.constraintFlags ?? 0).u(8, f.levelIdc ?? 40).ue(0);
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profileIdc)) {
    const chroma = f.chromaFormatIdc ?? 1;
    w.ue(chroma);
    if (chroma === 3) w.flag(f.separateColourPlane ?? false);
    w.ue(0).ue(0).flag(false);
    w.flag(f.scalingLists !== undefined);
    for (const list of f.scalingLists ?? []) {
      w.flag(list !== undefined);
      for (const delta of list ?? []) w.se(delta);
    }
  }
  w.ue(0); // log2_max_frame_num_minus4
  const pocType = f.pocType ?? 0;
  w.ue(pocType);
  if (pocType === 0) w.ue(2);
  if (pocType === 1) {
    w.flag(false).se(-3).se(5).ue(f.pocCycle?.length ?? 0);
    for (const offset of f.pocCycle ?? []) w.se(offset);
  }
  w.ue(4).flag(false);
  w.ue((f.widthInMbs ?? 20) - 1).ue((f.heightInMapUnits ?? 15) - 1);
  const frameMbsOnly = f.frameMbsOnly ?? true;
  w.flag(frameMbsOnly);
  if (!frameMbsOnly) w.flag(true);
  w.flag(true); // direct_8x8_inference_flag
  w.flag(f.crop !== undefined);
  for (const offset of f.crop ?? []) w.ue(offset);
  const vui = f.vui;
  w.flag(vui !== undefined);
  if (vui) {
    w.flag(vui.sar !== undefined);
    if (vui.sar) w.u(8, 255).u(16, vui.sar[0]).u(16, vui.sar[1]);
    w.flag(vui.overscan !== undefined);
    if (vui.overscan !== undefined) w.flag(vui.overscan);
    w.flag(vui.colourDescription !== undefined);
    if (vui.colourDescription !== undefined) {
      w.u(3, 5).flag(false).flag(vui.colourDescription);
      if (vui.colourDescription) w.u(8, 1).u(8, 1).u(8, 1);
    }
    w.flag(vui.chromaLoc !== undefined);
    if (vui.chromaLoc) w.ue(vui.chromaLoc[0]).ue(vui.chromaLoc[1]);
    w.flag(vui.timing !== undefined);
    if (vui.timing) w.u(32, vui.timing[0]).u(32, vui.timing[1]).flag(true);
    w.flag(false).flag(false).flag(false).flag(false).flag(false); // nal/vcl hrd, pic_struct, bitstream_restriction
  }
  return w.nal([0x67]);
}

function invalidMedia(pattern: RegExp): (err: unknown) => boolean {
  return (err) => isPushgateError(err) && err.code === 'INVALID_MEDIA' && pattern.test(err.message);
}

describe('parseH264Sps on x264 output', () => {
  it('reads size, frame rate and Constrained Baseline from a baseline stream', () => {
    const track = parseH264Sps(spsOf({ width: 1280, height: 720, args: ['-profile:v', 'baseline'] }));
    assert.deepEqual(track, { kind: 'video', codec: 'h264', width: 1280, height: 720, frameRate: 25, profile: 'Constrained Baseline@3.1' });
  });

  it('applies frame cropping to odd sizes and reads 30000/1001 timing as 29.97 fps', () => {
    const track = parseH264Sps(spsOf({ width: 1918, height: 1078, rate: '30000/1001' }));
    assert.equal(track.width, 1918);
    assert.equal(track.height, 1078);
    assert.equal(track.profile, 'High@4.0');
    assert.ok(Math.abs((track.frameRate ?? 0) - 30000 / 1001) < 1e-9, `frameRate ${track.frameRate}`);
  });

  it('skips the 8 scaling lists of a High profile custom quantisation matrix (cqm=jvt)', () => {
    const track = parseH264Sps(spsOf({ width: 640, height: 360, params: 'cqm=jvt' }));
    assert.deepEqual(track, { kind: 'video', codec: 'h264', width: 640, height: 360, frameRate: 25, profile: 'High@3.0' });
  });

  it('handles 4:4:4 with 12 scaling lists and crops in luma units', () => {
    const track = parseH264Sps(spsOf({ width: 1918, height: 1078, pixFmt: 'yuv444p', params: 'cqm=jvt' }));
    assert.equal(track.profile, 'High 4:4:4 Predictive@4.0');
    assert.deepEqual([track.width, track.height, track.frameRate], [1918, 1078, 25]);
  });

  it('crops 4:2:2 in one-row vertical units (High 4:2:2, 10 bit)', () => {
    const track = parseH264Sps(spsOf({ width: 1918, height: 1078, pixFmt: 'yuv422p10le' }));
    assert.equal(track.profile, 'High 4:2:2@4.0');
    assert.deepEqual([track.width, track.height], [1918, 1078]);
  });

  it('crops monochrome (chroma_format_idc 0) in luma units', () => {
    const track = parseH264Sps(spsOf({ width: 1918, height: 1078, pixFmt: 'gray' }));
    assert.deepEqual([track.width, track.height], [1918, 1078]);
  });

  it('names High 10', () => {
    assert.equal(parseH264Sps(spsOf({ pixFmt: 'yuv420p10le' })).profile, 'High 10@1.3');
  });

  it('doubles map-unit height for interlaced coding (frame_mbs_only_flag 0)', () => {
    const track = parseH264Sps(spsOf({ width: 1920, height: 1080, params: 'interlaced=1' }));
    assert.deepEqual([track.width, track.height, track.frameRate], [1920, 1080, 25]);
  });

  it('honours left/top cropping and drops an absurd tick rate (h264_metadata rewrite)', () => {
    const sps = spsOf({ width: 320, height: 240, args: ['-bsf:v', 'h264_metadata=tick_rate=1000/1:crop_left=16:crop_top=8:crop_right=8:crop_bottom=4'] });
    const track = parseH264Sps(sps);
    assert.deepEqual([track.width, track.height], [320 - 24, 240 - 12]);
    assert.equal(track.frameRate, undefined, '1000 ticks/s is 500 fps: not a real cadence');
  });

  it('reads the frame rate behind emulation-prevented timing bytes (num_units_in_tick = 1)', () => {
    const sps = spsOf({});
    assert.ok(sps.includes(Buffer.from([0, 0, 3])), 'x264 timing info needs an escape');
    assert.equal(parseH264Sps(sps).frameRate, 25);
  });
});

describe('parseH264Sps on hand-written parameter sets', () => {
  it('leaves frameRate undefined without VUI', () => {
    const track = parseH264Sps(buildSps({}));
    assert.deepEqual(track, { kind: 'video', codec: 'h264', width: 320, height: 240, profile: 'High@4.0' });
  });

  it('leaves frameRate undefined when the VUI has no timing info', () => {
    assert.equal(parseH264Sps(buildSps({ vui: { overscan: true } })).frameRate, undefined);
  });

  it('walks every optional VUI field before the timing info', () => {
    const track = parseH264Sps(buildSps({ vui: { sar: [4, 3], overscan: false, colourDescription: true, chromaLoc: [1, 2], timing: [1001, 48000] } }));
    assert.ok(Math.abs((track.frameRate ?? 0) - 24000 / 1001) < 1e-9);
  });

  it('treats frame rates above 300 or below 1 fps, or a zero tick, as unknown', () => {
    assert.equal(parseH264Sps(buildSps({ vui: { timing: [1, 602] } })).frameRate, undefined);
    assert.equal(parseH264Sps(buildSps({ vui: { timing: [1, 600] } })).frameRate, 300);
    assert.equal(parseH264Sps(buildSps({ vui: { timing: [1, 1] } })).frameRate, undefined);
    assert.equal(parseH264Sps(buildSps({ vui: { timing: [0, 50] } })).frameRate, undefined);
  });

  it('returns the size without a frame rate when the VUI is cut short', () => {
    const whole = buildSps({ vui: { sar: [1, 1], timing: [1, 50] } });
    const track = parseH264Sps(whole.subarray(0, whole.length - 6));
    assert.deepEqual([track.width, track.height, track.frameRate], [320, 240, undefined]);
  });

  it('stops reading a scaling list where a delta makes nextScale 0', () => {
    // List 0 uses the default (first delta -8), list 1 ends after 3 deltas, list 2 is fully coded.
    const full = (size: number): number[] => Array.from({ length: size }, (_, j) => (j % 2 ? -1 : 1));
    const lists = [[-8], [2, 3, -13], full(16), undefined, full(16), undefined, full(64), [-8]];
    const track = parseH264Sps(buildSps({ scalingLists: lists, widthInMbs: 45, heightInMapUnits: 36, vui: { timing: [1, 60] } }));
    assert.deepEqual([track.width, track.height, track.frameRate], [720, 576, 30]);
  });

  it('reads 12 scaling lists for 4:4:4 and crops separate colour planes in luma units', () => {
    const lists = Array.from({ length: 12 }, (_, i) => (i % 2 ? undefined : [-8]));
    const track = parseH264Sps(
      buildSps({ profileIdc: 244, chromaFormatIdc: 3, separateColourPlane: true, scalingLists: lists, crop: [1, 1, 1, 1], vui: { timing: [1, 50] } }),
    );
    assert.deepEqual([track.width, track.height, track.frameRate], [318, 238, 25]);
  });

  it('skips the pic_order_cnt_type 1 cycle', () => {
    const track = parseH264Sps(buildSps({ profileIdc: 77, pocType: 1, pocCycle: [2, -2, 7], vui: { timing: [1, 50] } }));
    assert.deepEqual([track.width, track.height, track.frameRate, track.profile], [320, 240, 25, 'Main@4.0']);
  });

  it('crops field-coded frames in units of 2 chroma rows per field', () => {
    // 1920x1080i: 68 field MB pairs tall is 1088 rows; crop_bottom 2 removes 2 * 2 * 2 = 8.
    const track = parseH264Sps(buildSps({ widthInMbs: 120, heightInMapUnits: 34, frameMbsOnly: false, crop: [0, 0, 0, 2] }));
    assert.deepEqual([track.width, track.height], [1920, 1080]);
  });

  it('names level 1b and unknown profiles', () => {
    assert.equal(parseH264Sps(buildSps({ profileIdc: 66, constraintFlags: 0x10, levelIdc: 11 })).profile, 'Baseline@1b');
    assert.equal(parseH264Sps(buildSps({ profileIdc: 100, levelIdc: 9 })).profile, 'High@1b');
    assert.equal(parseH264Sps(buildSps({ profileIdc: 77, levelIdc: 51 })).profile, 'Main@5.1');
    assert.equal(parseH264Sps(buildSps({ profileIdc: 12 })).profile, 'Profile 12@4.0');
  });

  it('rejects an SPS truncated before the picture size with INVALID_MEDIA', () => {
    const sps = buildSps({});
    assert.throws(() => parseH264Sps(sps.subarray(0, 6)), invalidMedia(/^invalid H\.264 SPS: bitstream ended early/));
  });

  it('rejects a NAL unit that is not an SPS', () => {
    assert.throws(() => parseH264Sps(Buffer.from([0x68, 0xee, 0x3c, 0x80])), invalidMedia(/NAL unit type 8 is not 7/));
    assert.throws(() => parseH264Sps(new Uint8Array(0)), invalidMedia(/invalid H\.264 SPS/));
  });

  it('rejects out-of-range syntax values', () => {
    assert.throws(() => parseH264Sps(buildSps({ chromaFormatIdc: 4 })), invalidMedia(/chroma_format_idc 4/));
    assert.throws(() => parseH264Sps(buildSps({ crop: [200, 200, 0, 0] })), invalidMedia(/frame cropping leaves/));
  });
});

describe('H.264 NAL type helpers', () => {
  it('classify NAL headers', () => {
    assert.equal(h264NalType(0x65), H264NalType.IDR);
    assert.equal(h264NalType(0x41), H264NalType.SLICE);
    assert.ok(isH264Vcl(1) && isH264Vcl(5) && !isH264Vcl(6) && !isH264Vcl(0));
    assert.ok(isH264Keyframe(5) && !isH264Keyframe(1));
    assert.ok(isH264ParameterSet(7) && isH264ParameterSet(8) && !isH264ParameterSet(9));
    assert.deepEqual(
      Array.from({ length: 24 }, (_, t) => t).filter(startsH264AccessUnit),
      [6, 7, 8, 9, 14, 15, 16, 17, 18],
    );
  });
});
