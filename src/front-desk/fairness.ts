/** The fairness rules staff book under live with the booking gate (scheduling/invitations/staff-standing.ts). */
export { bookingStanding, cleanReason, useInvitationAtDesk, type BookingStanding, type StandingProblem } from '../scheduling/invitations/staff-standing.js';
