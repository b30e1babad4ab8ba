package inngest

import "time"

// Trigger starts a function: on an event (optionally filtered by a CEL
// expression) or on a cron schedule. Build one with EventTrigger or
// CronTrigger.
type Trigger struct {
	Event      string
	Expression string
	Cron       string
	// Jitter delays each cron run by a random time up to Jitter (1s to 5m).
	Jitter time.Duration
}

// Triggerable is a Trigger or MultipleTriggers.
type Triggerable interface {
	triggers() []Trigger
}

func (t Trigger) triggers() []Trigger { return []Trigger{t} }

// MultipleTriggers starts a function on any of up to 10 triggers.
type MultipleTriggers []Trigger

func (m MultipleTriggers) triggers() []Trigger { return m }

// EventTrigger triggers a function on the event name. When expression is
// not nil, only events for which the CEL expression is true trigger it,
// for example inngest.Ptr("event.data.plan == 'pro'").
func EventTrigger(name string, expression *string) Trigger {
	t := Trigger{Event: name}
	if expression != nil {
		t.Expression = *expression
	}
	return t
}

// CronTrigger triggers a function on a cron schedule: five fields
// (minute hour day-of-month month day-of-week), optionally after
// "TZ=Europe/Paris ". Descriptors such as "@daily" are not supported.
func CronTrigger(schedule string) Trigger { return Trigger{Cron: schedule} }
