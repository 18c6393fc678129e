"""What executes a timed step: eager PyTorch, or an exported artefact's runtime.

A step backend turns a job into ``build(batch) -> PreparedStep`` (and a dict of facts for the
row's settings); the runner times whatever it builds with the same harness. ``eager`` builds the
registry model on the job's device (channels-last, ``litevid.optimize`` form when asked);
the exported runtimes (``onnxruntime``, ``executorch``, ``torchscript-lite``, ``coreml``) live
with the exporters, in ``export.runtime_step.RuntimeSteps``, and are imported only when a job
asks for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from ..devices import DeviceBackend
    from .modes import PreparedStep
    from .config import Job

__all__ = ["BuildFn", "EagerSteps", "Report", "StepBackend", "step_backend"]

BuildFn = Callable[[int], "PreparedStep"]  # batch size -> a ready-to-time step
Report = Callable[[str, int, "int | None"], None]


class StepBackend(Protocol):
    """Builds the timed step of a job."""

    name: str

    def prepare(self, job: Job, device: DeviceBackend, input_shape: tuple[int, ...],
                precision: str, report: Report) -> tuple[BuildFn, dict[str, Any]]:
        """``(build, facts)``: ``build(batch)`` makes the step at a batch (called again by the
        batch search); ``facts`` (filled by then) go into the row's settings."""
        ...


class EagerSteps:
    """The registry model in eager PyTorch on the job's device.

    Args:
        make_step: replaces ``modes.prepare_step`` (tests inject failing steps here).
    """

    name = "eager"

    def __init__(self, make_step: Callable[..., PreparedStep] | None = None) -> None:
        self.make_step = make_step

    def prepare(self, job: Job, device: DeviceBackend, input_shape: tuple[int, ...],
                precision: str, report: Report) -> tuple[BuildFn, dict[str, Any]]:
        from ..models import create_model, to_channels_last
        from .modes import MODE_TABLE, make_inputs, prepare_step

        cfg, facts = job.config, {}
        make_step = self.make_step or prepare_step
        report("build", 0, None)
        _, frames, size, _ = input_shape
        model = create_model(job.model, frames=frames, size=size).to(device.device)
        if cfg.channels_last:
            model = to_channels_last(model)  # 5-D and 4-D params by rank
        if cfg.optimize:  # the deployment-speed form; --compile stays prepare_step's job
            from ..optimization import optimize

            report("optimize", 0, None)
            model = optimize(model, inplace=True, input_shape=input_shape,
                             for_="training" if MODE_TABLE[job.mode].training else "inference",
                             layout="channels_last" if cfg.channels_last else "auto")
            facts["optimize"] = model.report.to_dict()

        def build(batch: int) -> PreparedStep:
            x, target = make_inputs(input_shape, batch, model.num_classes, device.device,
                                    channels_last=cfg.channels_last, seed=cfg.seed)
            return make_step(model, job.mode, x, target, device=device, precision=precision,
                             compile=cfg.compile)

        return build, facts


def step_backend(runtime: str, make_step: Callable[..., PreparedStep] | None = None
                 ) -> StepBackend:
    """The step backend of ``runtime`` (``eager`` or an exported runtime's name)."""
    if runtime == "eager":
        return EagerSteps(make_step)
    from ..export.runtime_step import RuntimeSteps  # the exporters' libraries only when asked

    return RuntimeSteps(runtime)
