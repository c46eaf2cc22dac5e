// H.264 NAL unit types and the sequence parameter set (ITU-T H.264 7.3.2.1.1, E.1.1): just
// enough of the SPS to say what the picture looks like, skipping everything else exactly.

import { PushgateError } from '../core/errors';
import type { VideoTrack } from '../core/media';
import { BitReader, unescapeRbsp } from './bit-reader';

export const H264NalType = {
  SLICE: 1,
  SLICE_DPA: 2,
  SLICE_DPB: 3,
  SLICE_DPC: 4,
  IDR: 5,
  SEI: 6,
  SPS: 7,
  PPS: 8,
  AUD: 9,
  END_OF_SEQUENCE: 10,
  END_OF_STREAM: 11,
  FILLER: 12,
} as const;

/** nal_unit_type from the first byte of a NAL unit. */
export function h264NalType(header: number): number {
  return header & 0x1f;
}

/** Slices of the primary coded picture: the NAL units that make a picture. */
export function isH264Vcl(type: number): boolean {
  return type >= H264NalType.SLICE && type <= H264NalType.IDR;
}

export function isH264Keyframe(type: number): boolean {
  return type === H264NalType.IDR;
}

export function isH264ParameterSet(type: number): boolean {
  return type === H264NalType.SPS || type === H264NalType.PPS;
}

/**
 * Non-VCL types that, after a picture's slices, open the next access unit (7.4.1.2.3):
 * AUD, SPS, PPS, SEI and 14..18 (prefix NAL, subset SPS, DPS, reserved).
 */
export function startsH264AccessUnit(type: number): boolean {
  return (type >= H264NalType.SEI && type <= H264NalType.AUD) || (type >= 14 && type <= 18);
}

const PROFILE_NAMES: Readonly<Record<number, string>> = {
  44: 'CAVLC 4:4:4 Intra',
  66: 'Baseline',
  77: 'Main',
  83: 'Scalable Baseline',
  86: 'Scalable High',
  88: 'Extended',
  100: 'High',
  110: 'High 10',
  118: 'Multiview High',
  122: 'High 4:2:2',
  128: 'Stereo High',
  134: 'MFC High',
  135: 'MFC Depth High',
  138: 'Multiview Depth High',
  139: 'Enhanced Multiview Depth High',
  244: 'High 4:4:4 Predictive',
};

/** Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices. */
const HIGH_PROFILES: ReadonlySet<number> = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Frame rates outside this range are encoder defaults or garbage, not a real cadence. */
const MIN_FRAME_RATE = 1;
const MAX_FRAME_RATE = 300;

/**
 * Parses one SPS NAL unit (starting at its 1-byte header, no start code).
 * Throws INVALID_MEDIA when it is not an SPS or its fields up to the VUI are truncated; a VUI
 * that ends early only costs the frame rate.
 */
export function parseH264Sps(nal: Uint8Array): VideoTrack {
  if (nal.length < 1) throw new PushgateError('INVALID_MEDIA', 'invalid H.264 SPS: empty NAL unit');
  const type = h264NalType(nal[0] as number);
  if (type !== H264NalType.SPS) throw new PushgateError('INVALID_MEDIA', `invalid H.264 SPS: NAL unit type ${type} is not 7`);
  try {
    return parseSpsRbsp(new BitReader(unescapeRbsp(nal.subarray(1))));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PushgateError('INVALID_MEDIA', `invalid H.264 SPS: ${reason}`, { cause: err });
  }
}

function parseSpsRbsp(r: BitReader): VideoTrack {
  const profileIdc = r.readBits(8);
  const constraintFlags = r.readBits(8);
  const levelIdc = r.readBits(8);
  r.readUE(); // seq_parameter_set_id

  let chromaFormatIdc = 1; // 4:2:0 is implied when the profile cannot signal anything else
  let separateColourPlane = false;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.readUE();
    if (chromaFormatIdc > 3) throw new Error(`chroma_format_idc ${chromaFormatIdc} out of range`);
    if (chromaFormatIdc === 3) separateColourPlane = r.readFlag();
    r.readUE(); // bit_depth_luma_minus8
    r.readUE(); // bit_depth_chroma_minus8
    r.skipBits(1); // qpprime_y_zero_transform_bypass_flag
    if (r.readFlag()) {
      // seq_scaling_matrix_present_flag: 6 4x4 lists, then 2 (or 6 for 4:4:4) 8x8 lists.
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) {
        if (r.readFlag()) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }

  r.readUE(); // log2_max_frame_num_minus4
  const picOrderCntType = r.readUE();
  if (picOrderCntType === 0) {
    r.readUE(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (picOrderCntType === 1) {
    r.skipBits(1); // delta_pic_order_always_zero_flag
    r.readSE(); // offset_for_non_ref_pic
    r.readSE(); // offset_for_top_to_bottom_field
    const cycle = r.readUE();
    if (cycle > 255) throw new Error(`num_ref_frames_in_pic_order_cnt_cycle ${cycle} out of range`);
    for (let i = 0; i < cycle; i++) r.readSE();
  } else if (picOrderCntType !== 2) {
    throw new Error(`pic_order_cnt_type ${picOrderCntType} out of range`);
  }
  r.readUE(); // max_num_ref_frames
  r.skipBits(1); // gaps_in_frame_num_value_allowed_flag
  const widthInMbs = r.readUE() + 1;
  const heightInMapUnits = r.readUE() + 1;
  const frameMbsOnly = r.readFlag();
  if (!frameMbsOnly) r.skipBits(1); // mb_adaptive_frame_field_flag
  r.skipBits(1); // direct_8x8_inference_flag

  // Without frame_mbs_only a map unit is a field macroblock pair: two macroblocks tall.
  const fieldFactor = frameMbsOnly ? 1 : 2;
  let width = widthInMbs * 16;
  let height = heightInMapUnits * 16 * fieldFactor;
  if (r.readFlag()) {
    // frame_cropping_flag: offsets count in chroma samples (7-19..7-22), or luma for 4:4:4/mono.
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const cropUnitX = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const cropUnitY = (chromaArrayType === 1 ? 2 : 1) * fieldFactor;
    const left = r.readUE();
    const right = r.readUE();
    const top = r.readUE();
    const bottom = r.readUE();
    width -= cropUnitX * (left + right);
    height -= cropUnitY * (top + bottom);
    if (width <= 0 || height <= 0) throw new Error(`frame cropping leaves ${width}x${height}`);
  }

  const frameRate = r.readFlag() ? readVuiFrameRate(r) : undefined;
  return {
    kind: 'video',
    codec: 'h264',
    width,
    height,
    profile: `${profileName(profileIdc, constraintFlags)}@${levelName(profileIdc, constraintFlags, levelIdc)}`,
    ...(frameRate !== undefined ? { frameRate } : {}),
  };
}

/** scaling_list() (7.3.2.1.1.1): delta-coded, ends early when a delta makes nextScale 0. */
function skipScalingList(r: BitReader, size: number): void {
  let lastScale = 8;
  let nextScale = 8;
  for (let j = 0; j < size; j++) {
    if (nextScale !== 0) {
      const delta = r.readSE();
      nextScale = (((lastScale + delta) % 256) + 256) % 256;
    }
    lastScale = nextScale === 0 ? lastScale : nextScale;
  }
}

/** vui_parameters() up to timing_info (E.1.1). A VUI cut short yields no frame rate. */
function readVuiFrameRate(r: BitReader): number | undefined {
  try {
    if (r.readFlag()) {
      // aspect_ratio_info_present_flag; 255 is Extended_SAR with explicit width and height.
      if (r.readBits(8) === 255) r.skipBits(32);
    }
    if (r.readFlag()) r.skipBits(1); // overscan_info_present_flag -> overscan_appropriate_flag
    if (r.readFlag()) {
      // video_signal_type_present_flag: video_format(3) full_range(1) colour_description_present(1)
      r.skipBits(4);
      if (r.readFlag()) r.skipBits(24);
    }
    if (r.readFlag()) {
      r.readUE(); // chroma_sample_loc_type_top_field
      r.readUE(); // chroma_sample_loc_type_bottom_field
    }
    if (!r.readFlag()) return undefined; // timing_info_present_flag
    const numUnitsInTick = r.readBits(32);
    const timeScale = r.readBits(32);
    // A frame is two ticks in H.264: one per field (E.2.1).
    return plausibleFrameRate(timeScale / (2 * numUnitsInTick));
  } catch (err) {
    if (err instanceof PushgateError) return undefined;
    throw err;
  }
}

export function plausibleFrameRate(rate: number): number | undefined {
  return Number.isFinite(rate) && rate >= MIN_FRAME_RATE && rate <= MAX_FRAME_RATE ? rate : undefined;
}

function profileName(profileIdc: number, constraintFlags: number): string {
  // constraint_set1_flag on Baseline means the decodable-by-Main subset everyone ships.
  if (profileIdc === 66 && (constraintFlags & 0x40) !== 0) return 'Constrained Baseline';
  return PROFILE_NAMES[profileIdc] ?? `Profile ${profileIdc}`;
}

function levelName(profileIdc: number, constraintFlags: number, levelIdc: number): string {
  // Level 1b is level_idc 11 with constraint_set3_flag in the non-High profiles, or 9 elsewhere.
  const set3 = (constraintFlags & 0x10) !== 0;
  if (levelIdc === 9 || (levelIdc === 11 && set3 && (profileIdc === 66 || profileIdc === 77 || profileIdc === 88))) return '1b';
  return (levelIdc / 10).toFixed(1);
}
