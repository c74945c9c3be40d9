/** The authorization suite (./auth-cases.ts), part 4 of 4: every fourth scoped operation from the fourth. */
import { defineAuthSuite } from "./auth-cases";

defineAuthSuite(3, 4);
