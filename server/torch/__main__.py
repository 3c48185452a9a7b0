"""The PyTorch training worker: `python3 -m server.torch <command>` with the repository root on PYTHONPATH.

  train <job.json>     trains one model as the job says (train.py); one JSON object a line on stdout:
                       metrics, eval, checkpoint, resumed, log, then done (or error); run it under
                       `python3 -m torch.distributed.run` for several processes
  launch <args...>     runs torchrun (torch.distributed.run) with <args...>, arranged to die with its
                       parent, so a killed CLI never leaves training behind
  bench [options]      the training loop on fixed shapes, timed (bench.py)

SIGTERM asks for a stop: the worker checkpoints at the next step boundary and exits with done
{interrupted: true}. The TS side validates every line (server/protocol/torchWorker.ts).
"""
import json
import os
import signal
import sys
import traceback


def die_with_parent():
    """Linux: SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG, kept across exec)."""
    if not sys.platform.startswith('linux'):
        return
    import ctypes
    try:
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def emit_line(obj):
    sys.stdout.write(json.dumps(obj, allow_nan=False) + '\n')
    sys.stdout.flush()


def train(job_file):
    import datetime

    import torch

    from .train import TrainingError, trainer_from_job

    with open(job_file, encoding='utf-8') as f:
        job = json.load(f)
    stop = {'requested': False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    dist = None
    if 'WORLD_SIZE' in os.environ and int(os.environ['WORLD_SIZE']) > 1:
        rank, world = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
        if job.get('device', 'cpu').startswith('cuda'):
            job['device'] = f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'
            torch.cuda.set_device(job['device'])
        backend = 'nccl' if job['device'].startswith('cuda') else 'gloo'
        # A dead peer must fail the run, not hang it: every collective gives up after the timeout.
        timeout = datetime.timedelta(seconds=job.get('collectiveTimeoutSeconds', 120))
        torch.distributed.init_process_group(backend, timeout=timeout)
        dist = (rank, world)
    rank = dist[0] if dist else 0
    emit = emit_line if rank == 0 else (lambda obj: None)

    def stop_requested():
        if not dist:
            return stop['requested']
        # Every rank stops at the same step: a stop seen by any of them counts for all.
        flag = torch.tensor([1.0 if stop['requested'] else 0.0])
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    try:
        trainer = trainer_from_job(job, emit, dist)
        emit(trainer.run(stop_requested))
        code = 0
    except TrainingError as e:
        emit({'type': 'error', 'message': str(e)})
        code = 2
    if dist:
        torch.distributed.destroy_process_group()
    return code


def launch(args):
    """torchrun (torch.distributed.run) with `args`, in this process (so it dies with our parent)."""
    from torch.distributed.elastic.multiprocessing.api import Std
    from torch.distributed.run import main as torchrun

    # torch 1.13 on Python >= 3.11: iterating the IntFlag Std skips its zero member, so torchrun's
    # default --redirects/--tee "0" parse to None and it fails before starting; "0" means Std.NONE.
    if Std.from_str('0') is None:
        parse = Std.from_str
        Std.from_str = classmethod(lambda cls, vm: Std.NONE if vm.strip() == '0' else parse(vm))
    torchrun(args)
    return 0


def main(argv):
    if not argv or argv[0] not in ('train', 'launch', 'bench'):
        sys.stderr.write(__doc__)
        return 64
    die_with_parent()
    if argv[0] == 'launch':
        return launch(argv[1:])
    if argv[0] == 'bench':
        from .bench import main as bench_main
        return bench_main(argv[1:])
    if len(argv) != 2:
        sys.stderr.write('usage: python3 -m server.torch train <job.json>\n')
        return 64
    try:
        return train(argv[1])
    except Exception as e:  # a crash: the TS side records the run as interrupted (resumable)
        traceback.print_exc()
        if os.environ.get('RANK', '0') == '0':
            emit_line({'type': 'error', 'message': f'{type(e).__name__}: {e}', 'crash': True})
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
