"""Specification of vc_core.timing: Wan's causal VAE frame bookkeeping and VideoCanvas RoPE positions."""

from __future__ import annotations

import pytest
import torch

from vc_core.timing import (
    POSITION_POLICIES,
    WAN_TEMPORAL_STRIDE,
    TimingError,
    causal_latent_slot,
    check_frame_spec,
    check_frame_syntax,
    check_length,
    condition_time_position,
    describe_timing,
    latent_length,
    latent_slot_frames,
    parse_frames,
    pixel_length,
    video_time_positions,
)

# pixel frame -> (interpolate, nearest, extrapolate) position, for a 77-frame Wan video (stride 4)
TABLE_77 = {
    0: (0.0, 0.0, 0.0),
    1: (0.25, 1.0, 1.0),
    2: (0.5, 1.0, 2.0),
    3: (0.75, 1.0, 3.0),
    4: (1.0, 1.0, 4.0),
    5: (1.25, 2.0, 5.0),
    40: (10.0, 10.0, 40.0),
    41: (10.25, 11.0, 41.0),
    76: (19.0, 19.0, 76.0),
}


# --------------------------------------------------------------------------- constants


def test_constants():
    assert WAN_TEMPORAL_STRIDE == 4
    assert POSITION_POLICIES == ("interpolate", "nearest", "extrapolate")
    assert issubclass(TimingError, ValueError)


# --------------------------------------------------------------------------- lengths


@pytest.mark.parametrize("length, latents", [(1, 1), (5, 2), (9, 3), (33, 9), (49, 13), (77, 20), (81, 21)])
def test_latent_length_and_inverse(length, latents):
    assert latent_length(length) == latents
    assert pixel_length(latents) == length
    assert check_length(length) == length


def test_other_strides():
    assert latent_length(13, stride=3) == 5
    assert pixel_length(5, stride=3) == 13
    assert latent_length(7, stride=1) == 7


@pytest.mark.parametrize(
    "length, message",
    [
        (78, "length must be 4k+1 (…, 77, 81, …); got 78"),
        (80, "length must be 4k+1 (…, 77, 81, …); got 80"),
        (79, "length must be 4k+1 (…, 77, 81, …); got 79"),
        (0, "length must be 4k+1 (1, 5, …); got 0"),
        (-3, "length must be 4k+1 (1, 5, …); got -3"),
        (3, "length must be 4k+1 (1, 5, …); got 3"),
    ],
)
def test_check_length_suggests_nearest_valid(length, message):
    with pytest.raises(TimingError) as err:
        check_length(length)
    assert str(err.value) == message
    with pytest.raises(TimingError, match="length must be 4k"):
        latent_length(length)


@pytest.mark.parametrize("bad", [77.0, "77", True, None])
def test_length_must_be_an_integer(bad):
    with pytest.raises(TimingError, match=r"^length must be an integer"):
        check_length(bad)


def test_bad_stride_and_latent_frames():
    with pytest.raises(TimingError, match=r"stride must be an integer >= 1; got 0"):
        latent_length(77, stride=0)
    with pytest.raises(TimingError, match=r"latent_frames must be an integer >= 1; got 0"):
        pixel_length(0)


# --------------------------------------------------------------------------- latent slots


@pytest.mark.parametrize("tau", sorted(TABLE_77))
def test_causal_latent_slot(tau):
    assert causal_latent_slot(tau) == int(TABLE_77[tau][1])


def test_latent_slot_frames_partition_the_video():
    assert latent_slot_frames(0) == range(0, 1)
    assert list(latent_slot_frames(1)) == [1, 2, 3, 4]
    assert list(latent_slot_frames(11)) == [41, 42, 43, 44]
    assert list(latent_slot_frames(19)) == [73, 74, 75, 76]
    covered = [tau for k in range(latent_length(77)) for tau in latent_slot_frames(k)]
    assert covered == list(range(77))
    assert all(causal_latent_slot(tau) == k for k in range(20) for tau in latent_slot_frames(k))


def test_slot_inputs_must_be_non_negative_integers():
    with pytest.raises(TimingError, match=r"tau \(pixel frame\) must be an integer >= 0; got -1"):
        causal_latent_slot(-1)
    with pytest.raises(TimingError, match=r"tau \(pixel frame\) must be an integer; got 2.5"):
        causal_latent_slot(2.5)
    with pytest.raises(TimingError, match=r"k \(latent frame\) must be an integer >= 0; got -1"):
        latent_slot_frames(-1)


# --------------------------------------------------------------------------- RoPE positions


@pytest.mark.parametrize("tau", sorted(TABLE_77))
def test_condition_positions_per_policy(tau):
    for policy, expected in zip(POSITION_POLICIES, TABLE_77[tau], strict=True):
        got = condition_time_position(tau, 4, policy)
        assert isinstance(got, float)
        assert got == expected, (tau, policy)


def test_interpolate_is_the_default():
    assert condition_time_position(41) == 10.25


def test_video_positions():
    interp = video_time_positions(20, 4, "interpolate")
    assert interp.dtype == torch.float64 and interp.shape == (20,)
    assert interp.tolist() == [float(k) for k in range(20)]
    assert torch.equal(video_time_positions(20, 4, "nearest"), interp)
    extrap = video_time_positions(20, 4, "extrapolate")
    assert extrap.dtype == torch.float64
    assert extrap.tolist() == [float(k) for k in range(0, 77, 4)]  # 0, 4, ..., 76


def test_positions_share_one_axis():
    """A condition at a frame a latent also holds last lands exactly on that latent, in every policy."""
    for policy in POSITION_POLICIES:
        video = video_time_positions(20, 4, policy)
        for k in range(20):
            assert condition_time_position(4 * k, 4, policy) == video[k].item()


def test_float64_positions_are_exact():
    pos = torch.tensor([condition_time_position(41, 4, "interpolate")], dtype=torch.float64)
    assert pos.item() == 10.25
    assert torch.tensor(10.25, dtype=torch.float32).item() == 10.25
    # why positions are never bf16: 8 significant bits round quarter positions from 64 on (frame 305)
    late = condition_time_position(305, 4, "interpolate")
    assert late == 76.25
    assert torch.tensor(late, dtype=torch.float32).item() == 76.25
    assert torch.tensor(late, dtype=torch.bfloat16).item() == 76.0


@pytest.mark.parametrize("bad", ["linear", "", None, "Interpolate"])
def test_unknown_policy(bad):
    message = f"policy must be one of 'interpolate', 'nearest', 'extrapolate'; got {bad!r}"
    with pytest.raises(TimingError) as err:
        condition_time_position(3, 4, bad)
    assert str(err.value) == message
    with pytest.raises(TimingError) as err:
        video_time_positions(20, 4, bad)
    assert str(err.value) == message


# --------------------------------------------------------------------------- describe_timing


def test_describe_timing_77():
    rows = describe_timing(77)
    assert len(rows) == 77
    assert [row["frame"] for row in rows] == list(range(77))
    for tau, (interp, nearest, extrap) in TABLE_77.items():
        assert rows[tau] == {
            "frame": tau,
            "latent_slot": int(nearest),
            "interpolate": interp,
            "nearest": nearest,
            "extrapolate": extrap,
        }
    assert [rows[t]["latent_slot"] for t in (0, 1, 2, 3, 41, 76)] == [0, 1, 1, 1, 11, 19]


def test_describe_timing_checks_length():
    with pytest.raises(TimingError, match=r"got 78$"):
        describe_timing(78)


# --------------------------------------------------------------------------- parse_frames: accepted


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("0, 40, -1", [0, 40, 76]),
        ("0 40 -1", [0, 40, 76]),
        (" 0,40 ,  -1 ", [0, 40, 76]),
        ("last", [76]),
        ("middle", [38]),
        ("first, middle, last", [0, 38, 76]),
        ("LAST 0", [76, 0]),
        ("-77", [0]),
        ("40.0", [40]),
        (0, [0]),
        (-1, [76]),
        (41, [41]),
        ([76, 0, 41], [76, 0, 41]),  # order kept: callers pair frames with patches
        ((3, -2), [3, 75]),
        ([0, 40.0, "last"], [0, 40, 76]),
    ],
)
def test_parse_frames(spec, expected):
    assert parse_frames(spec, 77) == expected


def test_parse_frames_middle_and_last_for_other_lengths():
    assert parse_frames("middle last", 81) == [40, 80]
    assert parse_frames("middle", 1) == [0]
    assert parse_frames("middle", 10) == [4]  # (length-1)//2; any length >= 1 is indexable


def test_parse_frames_seconds():
    assert parse_frames("0, 2.5, -0.1", 77, fps=15, unit="seconds") == [0, 38, 75]
    assert parse_frames([1, -1], 77, fps=15, unit="seconds") == [15, 62]
    assert parse_frames(2, 77, fps=15.0, unit="seconds") == [30]
    assert parse_frames("0, last", 77, fps=15, unit="seconds") == [0, 76]  # words are frames


def test_parse_frames_ignores_fps_in_frames_unit():
    assert parse_frames("40", 77, fps=15) == [40]


# --------------------------------------------------------------------------- parse_frames: refused


def _message(*args, **kwargs) -> str:
    with pytest.raises(TimingError) as err:
        parse_frames(*args, **kwargs)
    return str(err.value)


@pytest.mark.parametrize("spec", ["", "   ", " , ", [], ()])
def test_parse_frames_empty(spec):
    assert _message(spec, 77) == f"frames must name at least one frame; got {spec!r}"


@pytest.mark.parametrize("token", ["abc", "4o", "nan", "inf", "1/2", "0;40"])
def test_parse_frames_unparsable_token_is_quoted(token):
    message = _message(f"0, {token}", 77)
    assert message.startswith(f"frames: cannot parse '{token}'")
    assert "'first', 'middle', 'last'" in message


def test_parse_frames_bad_types():
    assert _message({"a": 1}, 77).startswith("frames must be an int, a list of numbers or a string")
    assert _message(True, 77).startswith("frames must be an int")
    assert _message([0, None], 77).startswith("frames: cannot parse None")
    assert _message([0, float("nan")], 77).startswith("frames: cannot use nan")


@pytest.mark.parametrize("spec, shown", [("77", "'77'"), ("-78", "'-78'"), (100, "100"), ([0, -80], "-80")])
def test_parse_frames_out_of_range(spec, shown):
    assert _message(spec, 77) == f"frames entry {shown} is out of range: allowed [-77, 76] for length 77"


def test_parse_frames_out_of_range_in_seconds_shows_the_frame():
    assert _message("6", 77, fps=15, unit="seconds") == (
        "frames entry '6' (6 s at 15 fps = frame 90) is out of range: allowed [-77, 76] for length 77"
    )


@pytest.mark.parametrize(
    "spec, first, second, frame",
    [
        ("0, 40, -1, 76", "'-1'", "'76'", 76),
        ("last 76", "'last'", "'76'", 76),
        ("0 0", "'0'", "'0'", 0),
        ([38, "middle"], "38", "'middle'", 38),
        ("-77, 0", "'-77'", "'0'", 0),
    ],
)
def test_parse_frames_duplicates_name_both_entries(spec, first, second, frame):
    assert _message(spec, 77) == f"frames entries {first} and {second} both resolve to frame {frame}"


def test_parse_frames_duplicates_after_rounding_seconds():
    assert _message("1, 1.01", 77, fps=15, unit="seconds") == (
        "frames entries '1' and '1.01' both resolve to frame 15"
    )


@pytest.mark.parametrize("spec", ["2.5", [0, 2.5], 40.5])
def test_parse_frames_non_integer_frames(spec):
    message = _message(spec, 77)
    assert message.startswith("frames must be whole frame numbers in unit 'frames'; got ")
    assert "2.5" in message or "40.5" in message
    assert "unit 'seconds'" in message


@pytest.mark.parametrize("fps", [None, 0, -15, float("nan"), "15", True])
def test_parse_frames_seconds_need_positive_fps(fps):
    assert _message("1", 77, fps=fps, unit="seconds") == (
        f"fps must be a number > 0 when frames are in seconds; got {fps!r}"
    )


def test_parse_frames_unit_and_length_and_name():
    assert _message("0", 77, unit="ms") == "unit must be one of 'frames', 'seconds'; got 'ms'"
    assert _message("0", 0) == "length must be an integer >= 1; got 0"
    assert _message("0 99", 77, name="keyframes").startswith("keyframes entry '99' is out of range")


# --------------------------------------------------------------------------- absurd magnitudes

HUGE_INT = "1" + "0" * 309  # 310 digits: no float holds it
HUGE_SHOWN = "'" + HUGE_INT[:27] + "...' (312 characters)"  # its quoted repr, shortened in messages


@pytest.mark.parametrize("spec, shown", [("1e303", "'1e303'"), ("-1e303", "'-1e303'"), ("1e400", "'1e400'"),
                                         (HUGE_INT, HUGE_SHOWN)])
def test_parse_frames_absurd_numbers_are_out_of_range_not_overflow(spec, shown):
    assert _message(spec, 81) == f"frames entry {shown} is out of range: allowed [-81, 80] for length 81"


@pytest.mark.parametrize("spec", ["1e303", HUGE_INT, 10**310, 1e308])
def test_parse_frames_absurd_seconds_are_out_of_range_not_overflow(spec):
    message = _message(spec, 81, fps=16, unit="seconds")
    assert message.startswith("frames entry ") and message.endswith(
        "(seconds: past any frame) is out of range: allowed [-81, 80] for length 81")


# --------------------------------------------------------------------------- before the length is known


def _spec_message(fn, *args, **kwargs) -> str:
    with pytest.raises(TimingError) as err:
        fn(*args, **kwargs)
    return str(err.value)


def test_check_frame_spec_accepts_what_some_video_can_take():
    check_frame_spec("0, 40, -1, last, 16383, -16384", 16384)
    check_frame_spec("0, 2.5, -0.1", 16384, "seconds", 16.0)


@pytest.mark.parametrize("spec, shown", [("16384", "'16384'"), ("1e303", "'1e303'"), ("-16385", "'-16385'"),
                                         (HUGE_INT, HUGE_SHOWN)])
def test_check_frame_spec_in_frames_speaks_of_frames(spec, shown):
    assert _spec_message(check_frame_spec, f"0, {spec}", 16384) == (
        f"frames entry {shown} is out of range: a video has at most 16384 frames, so frames must lie in "
        f"[-16384, 16383] (-1 = the last frame)")


def test_check_frame_spec_in_seconds_speaks_of_seconds():
    assert _spec_message(check_frame_spec, "2000", 16384, "seconds", 16.0) == (
        "frames entry '2000' (2000 s at 16 fps = frame 32000) is out of range: a video has at most "
        "16384 frames (1024 s at 16 fps), so times must lie in [-1024, 1023.94] s")
    assert _spec_message(check_frame_spec, HUGE_INT, 16384, "seconds", 16.0).endswith(
        "(seconds: past any frame) is out of range: a video has at most 16384 frames (1024 s at 16 fps), "
        "so times must lie in [-1024, 1023.94] s")


def test_check_frame_spec_refuses_fractions_and_syntax_like_parse_frames():
    assert _spec_message(check_frame_spec, "2.5", 16384).startswith(
        "frames must be whole frame numbers in unit 'frames'; got '2.5'")
    assert _spec_message(check_frame_spec, "0, soon", 16384).startswith("frames: cannot parse 'soon'")
    assert _spec_message(check_frame_spec, "", 16384) == "frames must name at least one frame; got ''"


def test_check_frame_syntax_refuses_only_what_no_unit_allows():
    # 2.5 (seconds) and 99999 (seconds at a low fps) may be fine once the unit is known
    check_frame_syntax("0, 2.5, 99999, last", 16384, 0.1)
    for spec in ("1e303", HUGE_INT):
        message = _spec_message(check_frame_syntax, spec, 16384, 0.1)
        assert message.startswith("frames entry '1") and "is out of range in any unit: a video has at most " \
            "16384 frames, so frames must lie in [-16384, 16383] (-1 = the last frame)" in message, message
        assert "1e+06" not in message and "10000000000" not in message.split("(")[0][30:]
    assert _spec_message(check_frame_syntax, "0, soon", 16384, 0.1).startswith("frames: cannot parse 'soon'")
