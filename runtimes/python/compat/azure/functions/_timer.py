"""Timer type of the azure.functions stand-in: TimerRequest, the value of a
timerTrigger parameter, built from the trigger's TimerInfo JSON
({"Schedule", "ScheduleStatus", "IsPastDue"})."""

_UNSET = object()


class TimerRequest:
    """A timer firing: past_due is True when the run is late (the host was
    down or busy at the scheduled time)."""

    __slots__ = ("_past_due", "_schedule_status", "_schedule")

    def __init__(self, *, past_due=False, schedule_status=_UNSET, schedule=_UNSET):
        # As in Azure: {} when not given, and None when given None (a
        # TimerInfo whose ScheduleStatus is null).
        self._past_due = past_due
        self._schedule_status = {} if schedule_status is _UNSET else schedule_status
        self._schedule = {} if schedule is _UNSET else schedule

    @property
    def past_due(self):
        """Whether the timer is past due."""
        return self._past_due

    @property
    def schedule_status(self):
        """The TimerInfo's ScheduleStatus: {"Last", "Next", "LastUpdated"},
        or None when the host keeps no schedule status."""
        return self._schedule_status

    @property
    def schedule(self):
        """The TimerInfo's Schedule: {"AdjustForDST": ...}."""
        return self._schedule

    def __repr__(self):
        return "<azure.TimerRequest past_due=%r at 0x%x>" % (self._past_due, id(self))
