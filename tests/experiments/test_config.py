"""The real conf/ composes: every option of every group, every swept value of every experiment
preset, every launcher; the typed schemas reject misspelt keys and wrong types."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.utils import get_class
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import ValidationError

from experiments import schema
from experiments.models import RUNNERS
from experiments.spec import config_problems, resolve
from xmr.datasets.registry import DATASETS

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
GROUPS = ("data", "features", "indexer", "model", "eval", "logger", "paths", "experiment",
          "qac", "debug")
# group -> its schema (data: one subclass per loader, checked separately)
SCHEMAS = {"features": (schema.FeaturesConfig, schema.QACFeaturesConfig),
           "indexer": schema.IndexerConfig,
           "model": tuple(schema.MODEL_SCHEMAS.values()), "eval": schema.EvalConfig,
           "logger": schema.LoggerConfig, "paths": schema.PathsConfig}
# grid points of the presets (the comments in conf/experiment/*.yaml say so)
PRESET_POINTS = {"smoke": 8 * 2, "demo": 18, "product_search": 4 * 6 * 6 * 3,
                 "qac_table2": 13 * 3, "paper1_comparison": 4 * 3, "dual_encoder_tuning": 8,
                 "smoke_qac": 5 * 2, "smoke_paper1": 4 * 2, "qac_comparison": 7 * 3,
                 "smoke_qac_comparison": 7, "product_search_xl": 3 * 2}
# the presets whose comparisons carry intervals run several seeds (issue 13)
PRESET_SEEDS = {"product_search": 3, "qac_table2": 3, "paper1_comparison": 3,
                "qac_comparison": 3, "smoke": 2,
                "smoke_qac": 2, "smoke_paper1": 2}
LAUNCHERS = ("joblib", *sorted(p.stem for p in (CONF_DIR / "hydra" / "launcher").glob("*.yaml")))


def build_all(job) -> None:
    """The config maps onto the library's constructors (by task): the runner of the task's
    registry from built objects and plain values, and the prediction settings."""
    spec = resolve(job)
    spec.runner()
    if spec.runner_cls.prunable:
        assert spec.parts.train_threshold <= spec.threshold


def options(group: str) -> list[str]:
    """The options of a group: its YAML files, so a new option is covered automatically."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


ALL_OPTIONS = [(g, o) for g in GROUPS for o in options(g)]


def sweep_params(cfg) -> dict[str, list[str]]:
    """hydra.sweeper.params parsed as Hydra's BasicSweeper parses them: key -> values."""
    parser = OverridesParser.create()
    out = {}
    for key, value in cfg.hydra.sweeper.params.items():
        override = parser.parse_override(f"{key}={value}")
        out[key] = (list(override.sweep_string_iterator()) if override.is_sweep_override()
                    else [override.get_value_element_as_str()])
    return out


def resolve_as_in_a_run(cfg, output_dir: Path):
    """Resolve everything, ${hydra:runtime.output_dir} included, as inside a Hydra job; the
    job's config (without the hydra node) is returned."""
    with open_dict(cfg):  # what Hydra fills in when it launches job 0
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.num = 0
        cfg.hydra.job.id = "0"
    HydraConfig.instance().set_config(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)  # raises on a broken interpolation
    job = copy.deepcopy(cfg)
    with open_dict(job):
        del job["hydra"]
    return job, resolved


def test_every_group_has_options():
    for group in GROUPS:
        assert options(group), f"conf/{group}/ has no options"


@pytest.mark.parametrize(("group", "option"), ALL_OPTIONS, ids=[f"{g}={o}" for g, o in ALL_OPTIONS])
def test_every_option_composes_resolves_and_builds(compose_cfg, tmp_path, group, option):
    cfg = compose_cfg([f"{group}={option}", f"paths.log_dir={tmp_path / 'logs'}"],
                      return_hydra_config=True)
    assert cfg.hydra.runtime.choices[group] == option
    job, resolved = resolve_as_in_a_run(cfg, tmp_path / "out")
    assert resolved["paths"]["output_dir"] == str(tmp_path / "out")
    assert job.paths.output_dir == str(tmp_path / "out")
    assert resolved["hydra"]["sweep"]["dir"].startswith(str(tmp_path / "logs" / "multiruns"))
    assert resolved["hydra"]["run"]["dir"].startswith(str(tmp_path / "logs" / "runs"))

    # typed all the way down, no mandatory value left unset (to_object raises on ???)
    obj = OmegaConf.to_object(job)
    assert isinstance(obj, schema.Config)
    for name, cls in SCHEMAS.items():
        assert isinstance(getattr(obj, name), cls), name
    loader = job.data.loader
    assert loader in DATASETS, f"data.loader {loader!r} is not in the registry"
    assert isinstance(obj.data, schema.DataConfig)
    assert isinstance(obj.data.options, DATASETS[loader].config_class())
    assert OmegaConf.get_type(job.data.options) is DATASETS[loader].config_class()

    # the option's name is what runs and caches are named after
    # (a sized variant of a model, e.g. dual_encoder_small for the smoke presets, runs as it)
    if group in ("data", "features", "indexer", "model", "logger"):
        assert job[group].name == option or (
            group == "model" and option.startswith(f"{job[group].name}_")), option
    assert job.logger.name in ("mlflow", "none")  # anything else would track nothing
    # the config maps onto the library's constructors (text features with XR-Linear, QAC
    # features with the QAC vectorizer)
    if OmegaConf.get_type(job.features) is schema.FeaturesConfig and job.indexer.name == \
            "hkmeans" and job.model.name == "xrlinear":
        if DATASETS[job.data.loader].task == job.task:
            build_all(job)
        else:  # a QAC dataset with the default task: only the pairing is refused
            assert [p.split(":")[0] for p in config_problems(job)] == ["task"]
    if job.task == "xmr" and OmegaConf.get_type(job.features) is schema.FeaturesConfig:
        if job.model.name not in RUNNERS["xmr"]:  # a QAC baseline (mpc, seq2seq)
            assert job.model.name in RUNNERS["qac"], job.model.name
            job.task = "qac"
        # every model has a runner whose values are valid (the default data is of task xmr)
        assert [p for p in config_problems(job) if not p.startswith(("data:", "task:"))] == []


def test_default_config(compose_cfg):
    cfg = compose_cfg()
    assert (cfg.data.name, cfg.features.name, cfg.model.name, cfg.logger.name) == (
        "synthetic_products", "all", "xrlinear", "mlflow")
    assert cfg.task == "xmr" and cfg.seed == 0


def test_data_dir_from_environment(compose_cfg, monkeypatch):
    monkeypatch.delenv("XMR_DATA_DIR", raising=False)
    assert compose_cfg().paths.data_dir == "./data"
    monkeypatch.setenv("XMR_DATA_DIR", "/somewhere/data")
    assert compose_cfg().paths.data_dir == "/somewhere/data"


def test_debug_tiny(compose_cfg):
    cfg = compose_cfg(["debug=tiny"])
    assert cfg.logger.name == "none"
    assert cfg.data.options.size == "tiny"


# ------------------------------------------------------------------- experiment presets
@pytest.mark.parametrize("preset", options("experiment"))
def test_preset_sweep_parses_and_every_value_composes(compose_cfg, preset):
    cfg = compose_cfg([f"experiment={preset}"], return_hydra_config=True)
    assert cfg.experiment_name == preset
    params = sweep_params(cfg)
    assert params, f"experiment/{preset} has no hydra.sweeper.params"
    n_points = 1
    for values in params.values():
        assert len(values) == len(set(values)), f"duplicate values in {values}"
        n_points *= len(values)
    if preset in PRESET_POINTS:
        assert n_points == PRESET_POINTS[preset]
    if preset in PRESET_SEEDS:
        assert len(params["seed"]) == PRESET_SEEDS[preset]

    for key, values in params.items():
        for value in values:
            point = compose_cfg([f"experiment={preset}", f"{key}={value}"])
            if "." in key:
                assert str(OmegaConf.select(point, key)) == value
            elif key == "seed":
                assert point.seed == int(value)
            elif key == "qac":  # a global-package group: its rows name themselves (a
                # smaller size of a row keeps the row's name)
                assert point.qac_row == value.removeprefix("row").removesuffix("_tiny")
            else:  # a config group (a sized variant, e.g. dual_encoder_small, keeps its name)
                assert value == point[key].name or value.startswith(f"{point[key].name}_")
            # the preset's shared training level is valid for every grid point
            build_all(point)


@pytest.mark.parametrize("preset", options("experiment"))
def test_preset_trains_once_per_feature_set(compose_cfg, preset):
    """The threshold axis re-prunes one training (model.train_threshold), so the number of
    distinct training configurations is the number of feature sets."""
    params = sweep_params(compose_cfg([f"experiment={preset}"], return_hydra_config=True))
    if "model.threshold" not in params:
        pytest.skip(f"{preset} has no threshold axis")
    features = params.get("features", [None])
    thresholds = params.get("model.threshold", [None])
    thresholds = sorted(set(thresholds[:1] + thresholds[-1:]))  # the extremes are enough
    keys = set()
    for feat, threshold in itertools.product(features, thresholds):
        overrides = [f"experiment={preset}"]
        overrides += [f"features={feat}"] if feat else []
        overrides += [f"model.threshold={threshold}"] if threshold else []
        keys.add(str(resolve(compose_cfg(overrides)).training_key("dataset")))
    assert len(keys) == len(features)


def test_man_training_keys_on_the_threshold(compose_cfg):
    """tfn: one training re-pruned per threshold; man: its negatives depend on the pruned upper
    levels, so each threshold is its own training (cache key) at that threshold."""
    def key(sampling: str, threshold: float):
        cfg = compose_cfg(["experiment=smoke", f"model.negative_sampling={sampling}",
                           f"model.threshold={threshold}"])
        spec = resolve(cfg)
        return str(spec.training_key("dataset")), spec.parts.train_threshold

    assert key("tfn", 0.05)[0] == key("tfn", 0.2)[0]
    assert key("tfn", 0.2)[1] == 0.05  # the preset's shared training level
    assert key("man", 0.05)[0] != key("man", 0.2)[0]
    assert key("man", 0.2)[1] == 0.2


def test_smoke_preset_values(compose_cfg):
    cfg = compose_cfg(["experiment=smoke"], return_hydra_config=True)
    assert sweep_params(cfg) == {"features": ["word1", "all"], "model.threshold": ["0.05", "0.2"],
                                 "eval.beam_size": ["2", "10"], "seed": ["0", "1"]}
    assert cfg.data.options.size == "tiny"
    assert cfg.model.train_threshold == 0.05


def test_product_search_xl_preset_values(compose_cfg):
    """The 1M-label preset (issue 16): the xl generator size, the scale benchmark's word
    1-2-gram features, one training re-pruned to each threshold, one seed."""
    cfg = compose_cfg(["experiment=product_search_xl"], return_hydra_config=True)
    assert sweep_params(cfg) == {"model.threshold": ["0.1", "0.2"],
                                 "eval.beam_size": ["1", "10", "50"]}
    assert cfg.data.loader == "synthetic_products" and cfg.data.options.size == "xl"
    assert cfg.features.name == "word12" and list(cfg.features.word_ngram_range) == [1, 2]
    assert cfg.features.char_ngram_range is None
    keys = {str(resolve(compose_cfg(["experiment=product_search_xl",
                                     f"model.threshold={t}"])).training_key("dataset"))
            for t in ("0.1", "0.2")}
    assert len(keys) == 1  # trains once


# ----------------------------------------------------------------------- typed schemas
@pytest.mark.parametrize("override", ["model.treshold=0.2", "data.options.sise=tiny",
                                      "features.word_ngram_rang=[1,2]", "eval.beam_sise=3",
                                      "indexer.nr_split=8", "logger.skip_finshed=false",
                                      "paths.log_dri=/tmp", "sed=1"])
def test_schema_rejects_misspelt_key(compose_cfg, override):
    key = override.split("=")[0]
    with pytest.raises(ConfigCompositionException, match=f"Could not override '{key}'"):
        compose_cfg([override])


def test_key_of_another_loader_is_rejected(compose_cfg):
    """data.options is typed per loader: bibtex (XMCConfig) has no `size`."""
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg(["data=bibtex", "data.options.size=tiny"])
    assert "XMCConfig" in str(info.value.__cause__)


@pytest.mark.parametrize("override", ["eval.beam_size=abc", "model.threshold=high",
                                      "logger.skip_finished=maybe", "features.min_df=1.5",
                                      "data.options.n_products=many", "indexer.nr_splits=[2]"])
def test_schema_rejects_wrong_type(compose_cfg, override):
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg([override])
    key = override.split("=")[0]
    cause = info.value.__cause__
    assert isinstance(cause, ValidationError), repr(cause)
    assert f"full_key: {key}" in str(cause)


def test_schema_converts_valid_types(compose_cfg):
    cfg = compose_cfg(["eval.beam_size=7", "model.threshold=0.3", "features.char_ngram_range=null",
                       "logger.skip_finished=false"])
    assert cfg.eval.beam_size == 7 and isinstance(cfg.eval.beam_size, int)
    assert cfg.model.threshold == 0.3 and isinstance(cfg.model.threshold, float)
    assert cfg.features.char_ngram_range is None
    assert cfg.logger.skip_finished is False


@pytest.mark.parametrize("group", GROUPS)
def test_unknown_group_option_lists_the_options(compose_cfg, group):
    with pytest.raises(MissingConfigException) as info:
        compose_cfg([f"{group}=nope"])
    message = str(info.value)
    assert f"{group}/nope" in message
    for option in options(group):
        assert option in message, f"{option!r} not listed in: {message}"


# ---------------------------------------------------------------------------- launchers
@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_launcher_composes(compose_cfg, tmp_path, launcher):
    cfg = compose_cfg([f"hydra/launcher={launcher}", f"paths.log_dir={tmp_path / 'logs'}"],
                      return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    node = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    cls = get_class(node["_target_"])  # the plugin is installed
    if launcher in ("joblib", "local_parallel"):
        assert cls.__name__ == "JoblibLauncher"
    if launcher == "local_parallel":
        assert node["n_jobs"] == 2
    if launcher == "slurm":
        assert cls.__name__ == "SlurmLauncher"
        assert node["array_parallelism"] == 64
        assert node["cpus_per_task"] == 8
        assert node["timeout_min"] == 120
        assert node["submitit_folder"].startswith(str(tmp_path / "logs" / "multiruns"))
    # the sweep callback survives the launcher change
    callback = cfg.hydra.callbacks.sweep_summary._target_
    assert get_class(callback).__name__ == "SweepCallback"
    assert cfg.hydra.job.chdir is False


def test_cfg_hydra_with_slurm_launcher(run_app, tmp_path):
    """`python -m experiments.run --cfg hydra hydra/launcher=slurm` prints the launcher."""
    proc = run_app("experiments.run", "--cfg", "hydra", "hydra/launcher=slurm",
                   f"paths.log_dir={tmp_path / 'logs'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "SlurmLauncher" in proc.stdout
    assert "array_parallelism: 64" in proc.stdout
    assert not (tmp_path / "logs").exists()  # printing the config runs nothing


@pytest.mark.parametrize("data,key", [("synthetic_products", "seed"), ("synthetic_tiny", "seed"),
                                      ("synthetic_bench", "seed"), ("synthetic_qac", "seed"),
                                      ("aol", "prefix_seed")])
def test_seed_moves_the_data_draws(compose_cfg, data, key):
    """One ``seed`` key moves the synthetic generators and the AOL prefix draws too."""
    assert compose_cfg([f"data={data}"]).data.options[key] == 0
    assert compose_cfg([f"data={data}", "seed=2"]).data.options[key] == 2
