package events

// The control endpoints, one value per verb: its service, its verb, its
// request and its reply type. A new verb is one value here, one
// service.Handle row in its service, and its callers' Call.

// Gateway node endpoints (per node: CallNode).
var (
	CtlGatewayStatus    = Endpoint[GatewayStatusRequest, GatewayStatus]{ServiceGateway, VerbStatus}
	CtlGatewayReconnect = Endpoint[ReconnectCommand, ReconnectReply]{ServiceGateway, VerbReconnect}
	CtlGatewayResize    = Endpoint[ResizeCommand, Settings]{ServiceGateway, VerbResize}
	CtlGatewayDrain     = Endpoint[DrainCommand, DrainReply]{ServiceGateway, VerbDrain}
	// CtlGatewayUndrain answers with the node's status after the change.
	CtlGatewayUndrain = Endpoint[UndrainCommand, GatewayStatus]{ServiceGateway, VerbUndrain}
)

// Monitor endpoints.
var (
	CtlMonitorStatus    = Endpoint[FleetStatusRequest, FleetStatus]{ServiceMonitor, VerbStatus}
	CtlMonitorNode      = Endpoint[NodeRequest, NodeDetail]{ServiceMonitor, VerbMonitorNode}
	CtlMonitorAnomalies = Endpoint[AnomaliesRequest, AnomalyList]{ServiceMonitor, VerbMonitorAnomalies}
)

// Healer endpoints.
var (
	CtlHealerStatus   = Endpoint[Empty, HealerStatus]{ServiceHealer, VerbStatus}
	CtlHealerPolicies = Endpoint[Empty, HealerPolicies]{ServiceHealer, VerbHealerPolicies}
	CtlHealerPause    = Endpoint[HealerPauseCommand, HealerSwitches]{ServiceHealer, VerbHealerPause}
	CtlHealerResume   = Endpoint[HealerResumeCommand, HealerSwitches]{ServiceHealer, VerbHealerResume}
	CtlHealerDryRun   = Endpoint[HealerDryRunCommand, HealerSwitches]{ServiceHealer, VerbHealerDryRun}
	CtlHealerHandsOff = Endpoint[HandsOffCommand, HealerSwitches]{ServiceHealer, VerbHealerHandsOff}
	CtlHealerActions  = Endpoint[HealerActionsRequest, HealerActions]{ServiceHealer, VerbHealerActions}
	CtlHealerRecord   = Endpoint[HealerRecordRequest, HealerRecord]{ServiceHealer, VerbHealerRecord}
)

// Notifier endpoints.
var (
	CtlNotifierStatus  = Endpoint[Empty, NotifierStatus]{ServiceNotifier, VerbStatus}
	CtlIncidentList    = Endpoint[IncidentListRequest, IncidentList]{ServiceNotifier, VerbIncidentList}
	CtlIncidentGet     = Endpoint[IncidentRequest, Incident]{ServiceNotifier, VerbIncidentGet}
	CtlIncidentAck     = Endpoint[IncidentCommand, Incident]{ServiceNotifier, VerbAck}
	CtlIncidentResolve = Endpoint[IncidentCommand, Incident]{ServiceNotifier, VerbResolve}
	CtlIncidentNote    = Endpoint[NoteCommand, Incident]{ServiceNotifier, VerbNote}
	CtlSilence         = Endpoint[SilenceCommand, SilenceReply]{ServiceNotifier, VerbSilence}
	CtlIncidentReview  = Endpoint[IncidentRequest, Review]{ServiceNotifier, VerbReview}
)

// Dev supervisor endpoints; status answers as list does.
var (
	CtlDevStatus  = Endpoint[Empty, ProcessList]{ServiceDev, VerbStatus}
	CtlDevList    = Endpoint[Empty, ProcessList]{ServiceDev, VerbList}
	CtlDevRestart = Endpoint[RestartCommand, RestartReply]{ServiceDev, VerbRestart}
	CtlDevNATS    = Endpoint[NATSCommand, NATSReply]{ServiceDev, VerbNATS}
)
