# IPython customisations of the local E2B runtime (docs/protocol.md#ipython-customisations). The
# sandbox agent writes this file next to the kernels (never into the user's environment) and runs it
# at kernel start in a private namespace, so nothing here shows up in the user's globals.
#
# * `e2b/data`: pandas DataFrames as column lists (+ the usual `text/html`).
# * `e2b/chart`: matplotlib figures as chart data, extracted by the `e2b-charts` package.
# * `application/json`: lists and dicts serialised through orjson (numpy values allowed).
# * PIL: `Image.save(path)` also displays the image; the Unix image viewer is a no-op.
# * stdout/stderr: capped per execution and sent in ~1 MiB messages (see `_cap_output`), and
#   not kept in IPython's output history.
#
# Heavy modules (pandas, matplotlib, PIL, e2b_charts, orjson) are only touched once user
# code has imported them, so kernel start stays fast and works without them.

import sys

from IPython import get_ipython
from IPython.core.formatters import BaseFormatter, JSONFormatter
from traitlets import ObjectName, Unicode


class E2BDataFormatter(BaseFormatter):
    format_type = Unicode("e2b/data")
    print_method = ObjectName("_repr_e2b_data_")
    _return_type = (dict, str)

    def __call__(self, obj):
        pandas = sys.modules.get("pandas")
        if pandas is None or not isinstance(obj, pandas.DataFrame):
            return super().__call__(obj)
        result = obj.to_dict(orient="list")
        for key, values in result.items():
            result[key] = [v.isoformat() if isinstance(v, pandas.Timestamp) else v for v in values]
        return result


class E2BChartFormatter(BaseFormatter):
    format_type = Unicode("e2b/chart")
    print_method = ObjectName("_repr_e2b_chart_")
    _return_type = (dict, str)

    def __call__(self, obj):
        if "matplotlib" not in sys.modules:
            return super().__call__(obj)
        from matplotlib.figure import Figure

        if not isinstance(obj, Figure):
            return super().__call__(obj)
        try:
            from e2b_charts import chart_figure_to_dict
        except ImportError:
            # Without e2b-charts a figure is only an image.
            return None
        try:
            return chart_figure_to_dict(obj)
        except Exception:
            return {}


class E2BJSONFormatter(JSONFormatter):
    def __call__(self, obj):
        if isinstance(obj, (list, dict)):
            try:
                import orjson

                data = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
                return orjson.loads(data), {"expanded": True}
            except ImportError:
                import json

                try:
                    return json.loads(json.dumps(obj)), {"expanded": True}
                except (TypeError, ValueError):
                    pass
            except TypeError:
                pass
        return super().__call__(obj)


def _patch_pil(image_module):
    from IPython.display import display

    def show_file(self, path, **options):
        return 0

    try:
        from PIL.ImageShow import UnixViewer

        UnixViewer.show_file = show_file
    except Exception:
        pass
    original_save = image_module.Image.save

    def save(image, fp, format=None, **options):
        if isinstance(fp, str):
            display(image)
        return original_save(image, fp, format, **options)

    image_module.Image.save = save


class _PILHook:
    """Patches `PIL.Image` the moment user code imports it (a meta path finder that wraps
    the real loader once, then removes itself)."""

    def find_spec(self, name, path=None, target=None):
        if name != "PIL.Image":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return None

        class _Loader:
            def __getattr__(self, attr):
                return getattr(loader, attr)

            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                exec_module(module)
                try:
                    _patch_pil(module)
                except Exception:
                    pass

        spec.loader = _Loader()
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        return spec


# Stdout/stderr text one execution may send (characters; the agent then enforces the exact
# byte limit, e2b_wire::execution::MAX_STREAM_BYTES, and the same notice text).
_LIMIT = 33554432
_CHUNK = 1 << 20
_NOTICE = (
    "[e2b: output truncated: this execution produced more than 32 MiB of stdout/stderr; "
    "the rest was discarded]\n"
)


def _cap_output():
    """Caps each execution's stdout/stderr in the kernel and flushes every ~1 MiB.

    ipykernel batches everything printed between two flushes (every 0.2 s) into one message,
    so a print loop would otherwise build messages of hundreds of MiB here and in the agent.
    Text past the cap is dropped (the cell keeps running) after one notice on stderr.

    IPython swaps `stream.write` around every cell (to tee output into its history) and puts
    back whatever it found. So the cap lives in the stream's class: `write` is a property that
    always returns the capping function, which hands the text it lets through to IPython's
    current replacement (or to the real write). Calls that come back into it from that
    replacement go straight to the real write.
    """
    import threading

    from ipykernel.iostream import OutStream

    streams = [sys.stdout, sys.stderr]
    if not all(type(s) is OutStream for s in streams):
        return
    base_write = OutStream.write
    lock = threading.Lock()
    local = threading.local()
    state = {"parent": None, "written": 0, "cut": False}

    def allow(stream, text):
        """The part of `text` within this execution's cap, and whether it was cut."""
        try:
            parent = stream.parent_header.get("msg_id")
        except Exception:
            parent = None
        with lock:
            if parent != state["parent"]:
                state.update(parent=parent, written=0, cut=False)
            if state["cut"]:
                return "", False
            room = _LIMIT - state["written"]
            cut = len(text) > room
            if cut:
                text = text[:room]
                state["cut"] = True
            state["written"] += len(text)
            return text, cut

    def capping(stream):
        pending = [0]

        def write(text):
            if getattr(local, "inside", False) or not isinstance(text, str):
                return base_write(stream, text)
            size = len(text)
            text, cut = allow(stream, text)
            target = stream.__dict__.get("_e2b_write") or (lambda t: base_write(stream, t))
            local.inside = True
            try:
                for start in range(0, len(text), _CHUNK):
                    piece = text[start : start + _CHUNK]
                    target(piece)
                    pending[0] += len(piece)
                    if pending[0] >= _CHUNK:
                        pending[0] = 0
                        stream.flush()
                if cut:
                    stream.flush()
                    base_write(sys.stderr, _NOTICE)
                    sys.stderr.flush()
            finally:
                local.inside = False
            return size

        write._e2b_capping = True
        return write

    class CappedOutStream(OutStream):
        @property
        def write(self):
            return self.__dict__["_e2b_capping"]

        @write.setter
        def write(self, value):
            # Putting back the plain method or our own function means "no replacement".
            if getattr(value, "_e2b_capping", False) or getattr(value, "__func__", None) is base_write:
                value = None
            self.__dict__["_e2b_write"] = value

    for stream in streams:
        stream.__dict__.pop("write", None)
        stream.__dict__["_e2b_capping"] = capping(stream)
        stream.__dict__["_e2b_write"] = None
        stream.__class__ = CappedOutStream


def _forget_output_history(ip):
    """IPython 9 keeps every cell's stdout/stderr in `history_manager.outputs` (for notebook
    export) even with history disabled: a print-heavy session would grow without bound."""
    outputs = getattr(getattr(ip, "history_manager", None), "outputs", None)
    if outputs is None or not hasattr(outputs, "clear"):
        return

    def clear(*_args):
        outputs.clear()

    ip.events.register("post_execute", clear)


def _install():
    ip = get_ipython()
    if ip is None:
        return
    formatters = ip.display_formatter.formatters
    formatters["e2b/data"] = E2BDataFormatter(parent=ip.display_formatter)
    formatters["e2b/chart"] = E2BChartFormatter(parent=ip.display_formatter)
    formatters["application/json"] = E2BJSONFormatter(parent=ip.display_formatter)
    for step in (_cap_output, lambda: _forget_output_history(ip)):
        try:
            step()
        except Exception:
            pass
    if "PIL.Image" in sys.modules:
        _patch_pil(sys.modules["PIL.Image"])
    else:
        sys.meta_path.insert(0, _PILHook())


_install()
