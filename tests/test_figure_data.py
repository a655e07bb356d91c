"""Figure-data digests: equal for equal arrays, different for any change."""

import hashlib

import numpy as np
import pytest

from hmmrisk import figure_data


def test_digest_is_sha256_of_name_dtype_shape_and_bytes():
    x = np.array([1.0, 2.0])
    expected = hashlib.sha256(b"x|<f8|(2,)|" + x.tobytes()).hexdigest()
    assert figure_data.digest(x=x) == expected


def test_digest_ignores_keyword_order_but_not_names_shapes_or_bits():
    a, b = np.arange(4.0), np.linspace(0, 1, 3)
    ref = figure_data.digest(a=a, b=b)
    assert figure_data.digest(b=b, a=a) == ref
    assert figure_data.digest(a=b, b=a) != ref
    assert figure_data.digest(a=a.reshape(2, 2), b=b) != ref
    nudged = a.copy()
    nudged[3] = np.nextafter(nudged[3], 10.0)
    assert figure_data.digest(a=nudged, b=b) != ref


def test_record_writes_only_when_the_environment_names_a_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(figure_data.ENV, raising=False)
    value = figure_data.record("fig-x", y=[1, 2, 3])
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv(figure_data.ENV, str(tmp_path / "out"))
    assert figure_data.record("fig-x", y=[1, 2, 3]) == value
    assert (tmp_path / "out" / "fig-x.sha256").read_text().strip() == value


@pytest.mark.parametrize("name", ["", "../x", "a b", None, 3])
def test_record_rejects_bad_names(name):
    with pytest.raises(ValueError, match="name"):
        figure_data.record(name, y=[1])


def test_digest_rejects_no_arrays_and_object_arrays():
    with pytest.raises(ValueError, match="at least one"):
        figure_data.digest()
    with pytest.raises(ValueError, match="object"):
        figure_data.digest(a=np.array([{}, 1], dtype=object))
