"""A Celery app on the filesystem transport (no broker server), instrumented."""
import os

from celery import Celery, signals

from apptuit_like.integrations.celery import instrument
from common import registry

folder = os.environ["TEST_BROKER_DIR"]
app = Celery("tasks", broker="filesystem://")
app.conf.update(broker_transport_options={"data_folder_in": folder,
                                          "data_folder_out": folder,
                                          "control_folder": folder + "-control"},
                task_ignore_result=True, worker_hijack_root_logger=False)
instrument(registry)


@signals.task_postrun.connect(weak=False)   # after instrument's: the run is counted
def note_done(task_id=None, state=None, **_):
    """One file per finished run, so the test knows when to stop the worker."""
    open(os.path.join(folder + "-done", "%s-%s" % (task_id, state)), "w").close()


@app.task(name="orders.ship")
def ship(order_id):
    return order_id


@app.task(name="orders.fail")
def fail(order_id):
    raise KeyError(order_id)


@app.task(name="orders.flaky", bind=True, default_retry_delay=0)
def flaky(self, order_id):
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return order_id
