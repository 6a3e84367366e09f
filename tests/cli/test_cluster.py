"""unetgui predict on Dask clusters the tests start (no outside service): a large image
blockwise with exact seams, many files one per task on a running cluster named by its
address, a worker killed during a job, and a clear message for a scheduler that is not
there."""

import os
import signal
import time

import numpy as np
import pytest
import tifffile

from unetgui.cli import main
from unetgui.core.blockwise_job import partial_folder, predict_large_image
from unetgui.core.dask_cluster import ClusterRequest, open_cluster
from unetgui.core.model import model_file_bytes
from unetgui.core.postprocess import foreground_probability, probabilities_to_labels
from unetgui.core.predict import predict
from unetgui.core.starter import load_starter_model
from unetgui.core.synthetic import SyntheticConfig, synthetic_cells

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    image, _ = synthetic_cells(SyntheticConfig(shape=(450, 520), n_cells=120, touching=0.8), np.random.default_rng(11))
    path = tmp_path_factory.mktemp("cluster") / "field.tif"
    tifffile.imwrite(path, image)
    expected = probabilities_to_labels(foreground_probability(predict(load_starter_model(), image[None])))
    return path, expected


def same_up_to_numbering(a, b):
    if not np.array_equal(a > 0, b > 0):
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def test_a_large_image_on_a_local_cluster_has_exact_seams(tmp_path, field, capsys):
    output = tmp_path / "field.ome.zarr"
    code = main(["predict", "starter", str(field[0]), "-o", str(output), "--scheduler", "local:2",
                 "--tile-size", "284", "--block-size", "200"])
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "local Dask cluster of 2 worker(s)" in err and "9 block(s)" in err
    # no terminal here: the progress comes as lines, each pass from 0 to all of its blocks
    for word in ("reading", "predicting", "merging", "labelling"):
        assert f"{word}: 0/9 blocks" in err and f"{word}: 9/9 blocks" in err
    from unetgui.core.ome_zarr_files import read_ome_zarr_labels

    assert same_up_to_numbering(read_ome_zarr_labels(output, (1, 450, 520))[0], field[1])


def test_a_worker_killed_during_a_job_does_not_stop_it(tmp_path, field):
    model = load_starter_model()
    output = tmp_path / "labels.tif"
    killed = []
    with open_cluster(ClusterRequest("local:2"), lambda text: None) as executor:
        pids = executor.client.run(os.getpid)

        def kill_one(name, done, total):
            if name == "predict" and done == 1 and not killed:
                pid = next(iter(pids.values()))
                os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker; its tasks run again
                killed.append(pid)

        result = predict_large_image(model_file_bytes(model), field[0], output, executor=executor, tile_size=284,
                                     block_px=200, on_progress=kill_one)
    assert killed and result.computed["labels"] == 9
    assert same_up_to_numbering(tifffile.imread(output), field[1])
    assert not partial_folder(output).exists()


def test_many_files_go_to_the_workers_of_a_running_cluster_one_per_task(tmp_path, field, capsys):
    from distributed import LocalCluster

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for k in range(3):
        tifffile.imwrite(folder / f"well{k}.tif", synthetic_cells(SyntheticConfig(shape=(128, 160)), rng)[0])
    (folder / "broken.tif").write_bytes(b"not a tiff")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code = main(["predict", "starter", str(folder), "-o", str(tmp_path / "out"),
                     "--scheduler", cluster.scheduler_address])
    err = capsys.readouterr().err
    assert f"Connected to the Dask scheduler at {cluster.scheduler_address} (2 workers)" in err
    assert code == 1  # one file failed, and says so
    assert "broken.tif" in err and "Wrote labels of 3 image(s)" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"well{k}_labels.tif" for k in range(3)]
    assert all(tifffile.imread(p).max() > 0 for p in (tmp_path / "out").iterdir())


@pytest.mark.parametrize("where", ["tcp://127.0.0.1:9", "not a scheduler"])
def test_a_scheduler_that_is_not_there_is_one_line(tmp_path, field, capsys, where):
    started = time.monotonic()
    code = main(["predict", "starter", str(field[0]), "-o", str(tmp_path / "out.tif"), "--scheduler", where])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and time.monotonic() - started < 60
    assert err[-1].startswith("unetgui predict: error: ") and "Traceback" not in "".join(err)
    assert ("Cannot reach a Dask scheduler" in err[-1]) if where.startswith("tcp") else ("local:N" in err[-1])
    assert not (tmp_path / "out.tif").exists() and not partial_folder(tmp_path / "out.tif").exists()


def test_a_slurm_job_asks_for_the_cores_memory_queue_and_time_given():
    pytest.importorskip("dask_jobqueue")
    from unetgui.core.dask_cluster import queue_cluster

    request = ClusterRequest(queue_system="slurm", cores=8, memory="32GB", queue="gpu", walltime="02:00:00")
    with queue_cluster(request) as cluster:  # nothing is submitted until it is scaled
        script = cluster.job_script()
    assert "#SBATCH --cpus-per-task=8" in script and "#SBATCH -p gpu" in script and "#SBATCH -t 02:00:00" in script
    assert "#SBATCH --mem=30G" in script and "--nthreads 8" in script


def test_a_queue_setting_it_cannot_use_is_a_clear_error():
    pytest.importorskip("dask_jobqueue")
    from unetgui.core.dask_cluster import queue_cluster
    from unetgui.core.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="Cannot set up the SLURM jobs: --memory .lots. is not an amount"):
        queue_cluster(ClusterRequest(queue_system="slurm", memory="lots"))
